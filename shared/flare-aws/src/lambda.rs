//! Lambda glue: what a Flare function reads from its environment at cold start, and the one DynamoDB call it
//! makes then ([`warm_up`]) so that its first request finds a connection open. Only what the first request needs
//! is read here; secrets are not logged.
//!
//! Every function reads through [`crate::secrets::Secrets::over`], so any of its variables may come from its
//! Secrets Manager secret (`FLARE_SECRETS_ARN`) instead of the plain environment; the session key always does.
//!
//! [`serve_http`] is the whole cold start of the two HTTP functions; [`SsoConfig::layer`] their one piece of
//! request glue: it turns the claims API Gateway's JWT authorizer verified into a [`flare_http::SsoUser`].
//! [`init_logging`] is every function's logging.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::UnsubscribeKey;
use flare_core::config::{ConfigError, Env, https_or_loopback};
use flare_core::{EmailAddress, Scope, SessionKey};
use flare_core::{IncidentService, SystemClock};
use flare_http::{AppState, HttpConfig, SsoUser};
use lambda_http::request::RequestContext;
use tower::util::MapRequestLayer;

use crate::secrets::Secrets;

/// Sets up a function's logging as Lambda's advanced logging controls ask: JSON lines when `AWS_LAMBDA_LOG_FORMAT`
/// is `JSON` (as `infra/template.yaml` sets it), at the level of `AWS_LAMBDA_LOG_LEVEL`, else of `RUST_LOG`, else
/// INFO ([`log_filter`]); no timestamps, since CloudWatch stamps each line. Call it first in `main`.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    let filter = log_filter(var("AWS_LAMBDA_LOG_LEVEL").or_else(|| var("RUST_LOG")).as_deref());
    let layer = tracing_subscriber::fmt::layer().with_target(false).without_time().with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter);
    // `try_init`: a second call (a test's) keeps the first subscriber instead of panicking.
    let _ = if var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("json")) {
        registry.with(layer.json()).try_init()
    } else {
        registry.with(layer).try_init()
    };
}

/// What gets logged: a level (`DEBUG`, Lambda's `FATAL` read as `ERROR`), or `RUST_LOG`-style `target=level`
/// directives, with INFO for whatever they leave unset; nothing, or nonsense, means INFO. A target filter rather
/// than an env-filter, which would pull a regex engine into every bootstrap.
pub fn log_filter(directives: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};

    let targets = match directives.map(str::trim) {
        Some(level) if level.eq_ignore_ascii_case("fatal") => Targets::new().with_default(LevelFilter::ERROR),
        Some(directives) => directives.parse().unwrap_or_default(),
        None => Targets::new(),
    };
    // Directives naming only targets (`flare_aws=debug`) leave the rest at INFO, not silent.
    match targets.default_level() {
        Some(_) => targets,
        None => targets.with_default(LevelFilter::INFO),
    }
}

/// The configuration every DynamoDB-backed function needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// `FLARE_TABLE`: the table `infra/template.yaml` creates.
    pub table: String,
}

impl FunctionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self { table: env.required("FLARE_TABLE", "the name of Flare's DynamoDB table")? })
    }
}

/// The whole of an HTTP function (intake, dashboard): its cold start, then its request loop. At cold start it sets
/// up logging and starts warming the DynamoDB connection in a task of its own; meanwhile it reads the Secrets
/// Manager secret (its own connection) and its configuration, and builds `router` over the store behind the SSO
/// layer. Init thus waits for the warm-up's round trip or for the rest, whichever is longer, not for both in turn.
/// It serves once the warm-up has answered (or failed), so the first request finds the connection open.
pub async fn serve_http(router: impl FnOnce(AppState) -> axum::Router) -> Result<(), lambda_http::Error> {
    init_logging();
    let process = Env::process();
    let client = crate::dynamodb_client();
    // `FLARE_TABLE` is a plain setting in the template. Were it only in the secret, there would be no warm-up
    // and the first request would open the connection.
    let warm = process.optional("FLARE_TABLE").map(|table| {
        let client = client.clone();
        tokio::spawn(async move { warm_up(&client, &table).await })
    });
    let secrets = Secrets::from_env(&process).await?;
    let env = secrets.over_process_env();
    let config = FunctionConfig::from(&env)?;
    let http = HttpConfig::from_lookup(&env)?;
    let sso = SsoConfig::from(&env)?;
    let store = crate::DynamoStore::new(client, config.table);
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    let app = sso.layer(router(AppState::new(service, http)));
    if let Some(warm) = warm {
        // The warm-up logs its own outcome; whatever it was, the function serves.
        let _ = warm.await;
    }
    lambda_http::run(app).await
}

/// The key [`warm_up`] reads: no item has it, so the read returns nothing and costs the least a read can.
const WARM_UP_KEY: &str = "#warm-up";

/// Makes one cheap call (a GetItem of a key no item has) to DynamoDB through `client`, during init. The call
/// opens the connection, TLS handshake included, and leaves it in the client's pool, so the first request reuses
/// it instead of paying for the handshake. Init runs at full CPU on Lambda, while a small function's first
/// request does not. A failure is logged and init goes on: the first request will open its own connection.
pub async fn warm_up(client: &aws_sdk_dynamodb::Client, table: &str) {
    let started = Instant::now();
    let key = AttributeValue::S(WARM_UP_KEY.to_string());
    let result = client
        .get_item()
        .table_name(table)
        .key(crate::schema::PK, key.clone())
        .key(crate::schema::SK, key)
        .projection_expression("#pk")
        .expression_attribute_names("#pk", crate::schema::PK)
        .send()
        .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        // One line per cold start: on AWS it shows what the handshake cost; the cold-start benchmark reads it.
        Ok(_) => tracing::info!(ms, "DynamoDB connection warmed"),
        Err(e) => tracing::warn!(ms, error = %DisplayErrorContext(&e), "DynamoDB warm-up failed; going on"),
    }
}

/// What the dispatcher needs besides [`FunctionConfig`]. The ticketing system reads its own variables
/// (`flare_tickets::from_env`).
///
/// | variable | holds |
/// |---|---|
/// | `FLARE_TABLE` | the table |
/// | `FLARE_SENDER` | the verified SES address mail comes from |
/// | `FLARE_SES_MAX_SEND_RATE` | the account's SES maximum send rate, recipients per second |
/// | `FLARE_TOPIC_ARN` | the SNS topic for SMS and chat; absent means no messages |
/// | `FLARE_PUBLIC_URL` | Flare's public `https://` address, for the links in mail (`http://` on a loopback host) |
/// | `FLARE_SESSION_KEY` | the session key the HTTP functions share (base64, from the secret), which signs unsubscribe links |
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub table: String,
    pub sender: EmailAddress,
    pub max_send_rate: f64,
    pub topic_arn: Option<String>,
    /// Without a trailing slash.
    pub public_url: String,
    pub unsubscribe: UnsubscribeKey,
}

impl DispatcherConfig {
    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        const TOPIC: &str = "FLARE_TOPIC_ARN";

        let table = FunctionConfig::from(env)?.table;
        let (sender, max_send_rate) = ses_sender(env)?;
        let topic_arn = env.optional(TOPIC);
        if topic_arn.as_deref().is_some_and(|arn| !arn.starts_with("arn:")) {
            return Err(ConfigError::Invalid { name: TOPIC, expected: "the ARN of an SNS topic (arn:...:sns:...)" });
        }
        Ok(Self {
            table,
            sender,
            max_send_rate,
            topic_arn,
            public_url: public_url(env)?,
            unsubscribe: SessionKey::from_env(env)?.unsubscribe_key(),
        })
    }
}

/// `FLARE_SENDER` and `FLARE_SES_MAX_SEND_RATE`: the verified address mail comes from and the account's SES
/// maximum send rate, which every function that sends mail needs.
pub(crate) fn ses_sender<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<(EmailAddress, f64), ConfigError> {
    const SENDER: &str = "FLARE_SENDER";
    const RATE: &str = "FLARE_SES_MAX_SEND_RATE";
    const RATE_EXPECTED: &str = "the account's SES maximum send rate, a positive number of recipients per second";
    let sender = env.required(SENDER, "the verified SES address Flare's mail comes from").and_then(|v| {
        EmailAddress::parse(SENDER, &v).map_err(|_| ConfigError::Invalid { name: SENDER, expected: "an email address" })
    })?;
    let max_send_rate = env
        .required(RATE, RATE_EXPECTED)?
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or(ConfigError::Invalid { name: RATE, expected: RATE_EXPECTED })?;
    Ok((sender, max_send_rate))
}

/// The SES mailer of a function that sends the odd mail of its own (the poller's bad-row mail), from
/// `FLARE_SENDER` and `FLARE_SES_MAX_SEND_RATE`.
pub fn ses_mailer<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<crate::SesMailer, ConfigError> {
    let (sender, max_send_rate) = ses_sender(env)?;
    Ok(crate::SesMailer::new(crate::ses_client(), sender, max_send_rate))
}

/// `FLARE_PUBLIC_URL`: https, or http on a loopback host for development; kept without a trailing slash.
fn public_url<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<String, ConfigError> {
    const URL: &str = "FLARE_PUBLIC_URL";
    const EXPECTED: &str = "Flare's public https:// address, e.g. https://flare.example.com";
    let text = env.required(URL, EXPECTED)?;
    https_or_loopback(&text).map_err(|_| ConfigError::Invalid { name: URL, expected: EXPECTED })?;
    Ok(text.trim_end_matches('/').to_string())
}

/// How the HTTP functions treat callers that the optional SSO endpoint's JWT authorizer let through.
///
/// | variable | holds |
/// |---|---|
/// | `FLARE_SSO_DEFAULT_SCOPES` | what a signed-in caller whose token names none of Flare's scopes may do, e.g. `incidents:write`; empty: only read, as staff |
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoConfig {
    pub default_scopes: Vec<Scope>,
}

impl SsoConfig {
    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        const NAME: &str = "FLARE_SSO_DEFAULT_SCOPES";
        const EXPECTED: &str = "Flare scopes separated by commas or spaces: incidents:read, incidents:write, admin";
        let listed = env.optional(NAME).unwrap_or_default();
        let default_scopes = listed
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| Scope::parse(NAME, s).map_err(|_| ConfigError::Invalid { name: NAME, expected: EXPECTED }))
            .collect::<Result<_, _>>()?;
        Ok(Self { default_scopes })
    }

    /// `router`, with each request's [`SsoUser`] taken from its API Gateway request context.
    pub fn layer(&self, router: axum::Router) -> axum::Router {
        let defaults = self.default_scopes.clone();
        router.layer(MapRequestLayer::new(move |request| with_sso_user(request, &defaults)))
    }
}

/// The request with the caller API Gateway's JWT authorizer verified, if it did. The claims are read only from
/// the request context, which API Gateway writes and lambda_http decodes from the event; an `SsoUser` that got
/// into the extensions any other way is removed. Without an authorizer on the route there is no `jwt` in the
/// context, so the request goes on as anonymous, a key or a session, as in `flare serve`.
pub fn with_sso_user<B>(mut request: http::Request<B>, default_scopes: &[Scope]) -> http::Request<B> {
    let user = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|authorizer| authorizer.jwt.as_ref()).and_then(|jwt| {
                SsoUser::from_claims(&jwt.claims, jwt.scopes.as_deref().unwrap_or_default(), default_scopes)
            })
        }
        _ => None,
    };
    request.extensions_mut().remove::<SsoUser>();
    if let Some(user) = user {
        request.extensions_mut().insert(user);
    }
    request
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn the_log_level_is_lambdas_setting_or_rust_log_directives_and_info_otherwise() {
        assert!(log_filter(Some("DEBUG")).would_enable("flare_core", &Level::DEBUG));
        assert!(!log_filter(Some("WARN")).would_enable("flare_core", &Level::INFO));
        assert!(!log_filter(Some("FATAL")).would_enable("flare_core", &Level::WARN));
        assert!(log_filter(Some("FATAL")).would_enable("flare_core", &Level::ERROR));
        let directives = log_filter(Some("warn,flare_aws=debug"));
        assert!(directives.would_enable("flare_aws::ses", &Level::DEBUG));
        assert!(!directives.would_enable("hyper", &Level::INFO));
        assert!(log_filter(Some("flare_aws=debug")).would_enable("hyper", &Level::INFO));
        for nothing_usable in [None, Some("loud please")] {
            let filter = log_filter(nothing_usable);
            assert!(filter.would_enable("flare_core", &Level::INFO), "{nothing_usable:?}: {filter:?}");
            assert!(!filter.would_enable("flare_core", &Level::DEBUG));
        }
    }

    /// 48 bytes, base64.
    const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v";

    /// A complete dispatcher environment, with `overrides` taking precedence.
    fn dispatcher_env(overrides: &[(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let overrides = overrides.to_vec();
        let base: [(&str, &str); 6] = [
            ("FLARE_TABLE", "flare"),
            ("FLARE_SENDER", "flare@example.org"),
            ("FLARE_SES_MAX_SEND_RATE", "14"),
            ("FLARE_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:flare"),
            ("FLARE_PUBLIC_URL", "https://flare.example.org/"),
            ("FLARE_SESSION_KEY", KEY),
        ];
        Env::from_lookup(move |name| {
            let find = |list: &[(&str, &str)]| list.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
            find(&overrides).or_else(|| find(&base))
        })
    }

    #[test]
    fn the_table_name_is_required() {
        let env = Env::from_lookup(|_| None);
        let e = FunctionConfig::from(&env).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_TABLE is not set"), "{e}");
    }

    #[test]
    fn the_dispatcher_reads_every_variable() {
        let c = DispatcherConfig::from(&dispatcher_env(&[])).unwrap();
        assert_eq!(c.table, "flare");
        assert_eq!(c.sender.as_str(), "flare@example.org");
        assert_eq!(c.max_send_rate, 14.0);
        assert_eq!(c.topic_arn.as_deref(), Some("arn:aws:sns:eu-west-1:123456789012:flare"));
        assert_eq!(c.public_url, "https://flare.example.org");
    }

    #[test]
    fn without_a_topic_the_dispatcher_sends_no_messages() {
        let c = DispatcherConfig::from(&dispatcher_env(&[("FLARE_TOPIC_ARN", "")])).unwrap();
        assert_eq!(c.topic_arn, None);
    }

    #[test]
    fn each_bad_dispatcher_variable_is_named() {
        for (name, value) in [
            ("FLARE_SENDER", "not an address"),
            ("FLARE_SES_MAX_SEND_RATE", "0"),
            ("FLARE_SES_MAX_SEND_RATE", "fast"),
            ("FLARE_TOPIC_ARN", "flare-topic"),
            ("FLARE_PUBLIC_URL", "http://flare.example.org"),
            ("FLARE_PUBLIC_URL", "http://localhost.example.org"),
            ("FLARE_PUBLIC_URL", "https:///incidents"),
            ("FLARE_SESSION_KEY", "c2hvcnQ="),
        ] {
            let e = DispatcherConfig::from(&dispatcher_env(&[(name, value)])).unwrap_err();
            assert!(e.to_string().starts_with(&format!("{name} is not usable")), "{name}={value}: {e}");
        }
    }

    #[test]
    fn the_dispatcher_needs_its_sender() {
        let e = DispatcherConfig::from(&dispatcher_env(&[("FLARE_SENDER", " ")])).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SENDER is not set"), "{e}");
    }

    #[test]
    fn the_session_key_never_shows_in_debug() {
        // What the config keeps is the key derived from the session key; its Debug must show none of its bytes.
        let bytes = [0xAB; 48];
        let key = SessionKey::from_bytes(&bytes).unwrap();
        let unsubscribe = key.unsubscribe_key();
        let shown = format!("{key:?} {unsubscribe:?}");
        assert_eq!(shown, "SessionKey(redacted) UnsubscribeKey(..)");
        let c = DispatcherConfig::from(&dispatcher_env(&[])).unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("UnsubscribeKey(..)") && !shown.contains(KEY), "{shown}");
    }

    #[test]
    fn a_loopback_public_url_may_be_plain_http_for_development() {
        let c = DispatcherConfig::from(&dispatcher_env(&[("FLARE_PUBLIC_URL", "http://localhost:9000")])).unwrap();
        assert_eq!(c.public_url, "http://localhost:9000");
    }

    #[test]
    fn sso_default_scopes_are_read_from_a_list() {
        let env = Env::from_lookup(|_| Some("incidents:write, admin".to_string()));
        assert_eq!(SsoConfig::from(&env).unwrap().default_scopes, [Scope::IncidentsWrite, Scope::Admin]);
    }

    #[test]
    fn without_sso_default_scopes_a_signed_in_caller_may_only_read() {
        assert_eq!(SsoConfig::from(&Env::from_lookup(|_| None)).unwrap(), SsoConfig::default());
    }

    #[test]
    fn an_unknown_sso_default_scope_is_named() {
        let e = SsoConfig::from(&Env::from_lookup(|_| Some("incidents:delete".to_string()))).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SSO_DEFAULT_SCOPES is not usable"), "{e}");
    }
}
