//! [`ChatWebhooks`]: the self-hosted adapter of [`Publisher`], posting each notification to the chat channels
//! configured for its systems through incoming webhooks (Slack, Microsoft Teams, and Slack-compatible services).
//!
//! It owns reading `FLARE_CHAT_WEBHOOKS` ([`ChatConfig::from_env`]), choosing an incident's channels, the payload
//! each service documents, and retrying 429, 5xx and timeouts. It does not decide what is published or remember
//! what was: that is the dispatcher and its ledger.
//!
//! Webhook URLs embed their tokens, so they are secrets: logs, errors and `Debug` show only the system and the
//! host, never a URL. Redirects are not followed, so a body is only ever sent to a configured URL.
//!
//! # Retries and duplicates
//! The dispatcher records one ledger entry per event for this channel, and runs the whole event again while the
//! report says `deferred`. A retry cannot skip the channels that already took the message, so to keep chat free
//! of duplicate posts a notification is reported:
//! - `published` when every channel accepted it, and also when some did and the others are still unavailable
//!   after this adapter's retries (those channels miss this one message; a warning names them);
//! - `failed` when any channel refused it for good (a 4xx other than 429: a deleted or misconfigured webhook),
//!   with a reason naming each such channel by system, host and status;
//! - `deferred` only when no channel accepted it and at least one is unavailable, so a retry posts nothing twice.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use flare_core::SystemId;
use flare_core::config::{ConfigError, Env, https_or_loopback};
use flare_core::notify::{Notification, NotifyError, PublishReport, Publisher};
use flare_core::retry::{Backoff, Pause, RETRY_AFTER_MAX, RetryAfter, retry_after, retryable_status};
use reqwest::header::RETRY_AFTER;
use reqwest::{Client, Url};
use serde_json::{Value, json};
use tracing::{debug, instrument, warn};

const SERVICE: &str = "chat";
const WEBHOOKS_VAR: &str = "FLARE_CHAT_WEBHOOKS";
const TIMEOUT_VAR: &str = "FLARE_CHAT_TIMEOUT_MS";

/// The per-request timeout when `FLARE_CHAT_TIMEOUT_MS` is unset.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most webhooks `FLARE_CHAT_WEBHOOKS` may list.
pub const CHAT_WEBHOOKS_MAX: usize = 100;
/// The longest per-request timeout accepted, in milliseconds.
const TIMEOUT_MAX_MS: u64 = 300_000;
/// The longest error code kept from a refusal's body (Slack answers `channel_not_found`, `invalid_payload`...).
const CODE_MAX: usize = 64;

/// Which incidents a webhook is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// `*`: every incident.
    Every,
    System(SystemId),
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Every => f.write_str("*"),
            Self::System(id) => id.fmt(f),
        }
    }
}

/// The payload a webhook takes, told by its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `{"text": …}` with `&`, `<` and `>` escaped as Slack documents: Slack and the services that copy its
    /// incoming webhooks. The default for hosts not recognised below.
    Slack,
    /// A Teams incoming webhook (Office 365 connector, `*.webhook.office.com`): `{"text": …}`, taken as is.
    TeamsConnector,
    /// A Teams Workflows webhook (Power Automate, "post to a channel when a webhook request is received"),
    /// whose template posts the Adaptive Card in `attachments`; it does not read `text`.
    TeamsWorkflow,
}

impl Dialect {
    fn of(url: &Url) -> Self {
        let host = url.host_str().unwrap_or_default();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if under("webhook.office.com") || host == "outlook.office.com" || host == "outlook.office365.com" {
            Self::TeamsConnector
        } else if under("logic.azure.com") || under("powerplatform.com") || under("powerautomate.com") {
            Self::TeamsWorkflow
        } else {
            Self::Slack
        }
    }

    /// The JSON body carrying `message` as plain text.
    fn body(self, message: &str) -> Value {
        match self {
            Self::Slack => json!({ "text": slack_escape(message) }),
            Self::TeamsConnector => json!({ "text": message }),
            Self::TeamsWorkflow => json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [{ "type": "TextBlock", "text": message, "wrap": true }],
                    },
                }],
            }),
        }
    }
}

/// Escapes the three characters Slack parses as markup in `text`, so a message cannot mention `@channel`, link or
/// format anything. Only these three: Slack decodes no other entity.
fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// One configured webhook. `Debug` shows its host, never its URL.
#[derive(Clone)]
struct Webhook {
    route: Route,
    url: Url,
    dialect: Dialect,
}

impl Webhook {
    fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("route", &self.route)
            .field("host", &self.host())
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// Which chat webhooks to post to, read from the environment by [`ChatConfig::from_env`]. `Debug` shows each
/// webhook's system and host only.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    webhooks: Vec<Webhook>,
    /// Per request, from connecting to the end of the response.
    pub timeout: Duration,
}

impl ChatConfig {
    /// Reads `FLARE_CHAT_WEBHOOKS`, `system=url` pairs separated by `;` or new lines (`*` for every incident),
    /// and `FLARE_CHAT_TIMEOUT_MS`. `None` when no webhook is configured.
    ///
    /// URLs must be https (http only for a loopback host, in tests) and carry no user name or password. An error
    /// names the variable and the entry (counting non-empty entries from 1), never the entry's text.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Option<Self>, ConfigError> {
        let Some(raw) = env.optional(WEBHOOKS_VAR) else { return Ok(None) };
        let entries: Vec<&str> = raw.split([';', '\n']).map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.is_empty() {
            return Ok(None);
        }
        if entries.len() > CHAT_WEBHOOKS_MAX {
            return Err(ConfigError::Invalid {
                name: WEBHOOKS_VAR,
                expected: "at most 100 system=URL pairs separated by ';' or new lines",
            });
        }
        let webhooks = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| webhook(entry).map_err(|problem| bad_entry(i + 1, problem)))
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = match env.optional(TIMEOUT_VAR) {
            None => DEFAULT_CHAT_TIMEOUT,
            Some(ms) => {
                ms.parse::<u64>().ok().filter(|ms| (1..=TIMEOUT_MAX_MS).contains(ms)).map(Duration::from_millis).ok_or(
                    ConfigError::Invalid { name: TIMEOUT_VAR, expected: "a timeout in milliseconds, from 1 to 300000" },
                )?
            }
        };
        Ok(Some(Self { webhooks, timeout }))
    }
}

/// Parses one `system=url` entry, or says what is wrong with it without repeating it.
fn webhook(entry: &str) -> Result<Webhook, &'static str> {
    let (system, url) = entry.split_once('=').ok_or("is not system=URL")?;
    let route = match system.trim() {
        "*" => Route::Every,
        id => Route::System(
            SystemId::parse(WEBHOOKS_VAR, id)
                .map_err(|_| "names no system: use a system id (letters, digits, '-' and '_') or *")?,
        ),
    };
    let url = https_or_loopback(url)?;
    let dialect = Dialect::of(&url);
    Ok(Webhook { route, url, dialect })
}

/// A [`ConfigError`] naming the entry by number; its problem is fixed text, so nothing is built at run time.
fn bad_entry(number: usize, problem: &'static str) -> ConfigError {
    ConfigError::Entry {
        name: WEBHOOKS_VAR,
        expected: "system=URL pairs separated by ';' or new lines",
        number,
        problem,
    }
}

/// Posts notifications to chat channels through incoming webhooks.
#[derive(Debug)]
pub struct ChatWebhooks {
    client: Client,
    webhooks: Vec<Webhook>,
    backoff: Backoff,
    pause: Pause,
}

/// What became of one post after its retries.
enum Outcome {
    Accepted,
    /// Refused for good, with the reason to record (no URL).
    Refused(String),
    /// Still throttled, failing or timing out.
    Unavailable,
}

impl ChatWebhooks {
    /// An adapter for `config`; it connects on first use, not here.
    pub fn new(config: ChatConfig) -> Result<Self, NotifyError> {
        let client = Client::builder()
            .user_agent(concat!("flare/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::Permanent { service: SERVICE, source: Box::new(e.without_url()) })?;
        Ok(Self { client, webhooks: config.webhooks, backoff: Backoff::default(), pause: Pause::default() })
    }

    /// Replaces the retry schedule for 429, 5xx and timeouts.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Replaces how the waits between attempts are slept (tests record them instead).
    pub fn with_pause(mut self, pause: Pause) -> Self {
        self.pause = pause;
        self
    }

    /// The webhooks for `note`: those of its systems and those for every incident, each URL once, in
    /// configuration order.
    fn targets(&self, note: &Notification) -> Vec<&Webhook> {
        let mut seen = HashSet::new();
        self.webhooks
            .iter()
            .filter(|w| match &w.route {
                Route::Every => true,
                Route::System(id) => note.systems.contains(id),
            })
            .filter(|w| seen.insert(w.url.as_str()))
            .collect()
    }

    /// Posts `body` to one webhook, retrying transient failures; `calls` counts every attempt.
    async fn post(&self, hook: &Webhook, body: &Value, calls: &mut usize) -> Outcome {
        let (system, host) = (&hook.route, hook.host());
        let mut waits = self.backoff.delays();
        let mut attempt = 0;
        loop {
            attempt += 1;
            *calls += 1;
            let asked = match self.client.post(hook.url.clone()).json(body).send().await {
                Ok(response) if response.status().is_success() => return Outcome::Accepted,
                Ok(response) if retryable_status(response.status().as_u16()) => {
                    let status = response.status().as_u16();
                    warn!(%system, host, status, attempt, "chat webhook unavailable");
                    let header = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok());
                    header.and_then(|v| retry_after(v, SystemTime::now(), RETRY_AFTER_MAX))
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let code = error_code(response).await;
                    warn!(%system, host, status, code = code.as_deref(), "chat webhook refused the message");
                    let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
                    return Outcome::Refused(format!(
                        "chat webhook for {system} at {host} answered HTTP {status}{code}"
                    ));
                }
                Err(e) if e.is_builder() => {
                    return Outcome::Refused(format!(
                        "chat webhook for {system} at {host}: the request could not be built"
                    ));
                }
                Err(e) => {
                    warn!(%system, host, attempt, error = %e.without_url(), "chat webhook unreachable");
                    None
                }
            };
            let Some(scheduled) = waits.next() else { break };
            let wait = match asked {
                Some(RetryAfter::TooLong(asked)) => {
                    warn!(%system, host, retry_after_s = asked.as_secs(), "chat webhook asks to wait too long");
                    break;
                }
                Some(RetryAfter::Wait(asked)) => asked,
                None => scheduled,
            };
            self.pause.sleep(wait).await;
        }
        Outcome::Unavailable
    }
}

/// The service's error code, when its body is one (Slack's `channel_not_found`, `invalid_token`...). Any other
/// body is dropped unread into the reason: it may echo what was sent.
async fn error_code(response: reqwest::Response) -> Option<String> {
    let body = response.text().await.ok()?;
    let code = body.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    (!code.is_empty() && code.len() <= CODE_MAX && code.chars().all(plain)).then(|| code.to_string())
}

#[async_trait]
impl Publisher for ChatWebhooks {
    #[instrument(skip_all, fields(notes = notes.len()))]
    async fn publish(&self, notes: &[Notification]) -> Result<PublishReport, NotifyError> {
        let mut report = PublishReport::default();
        for (index, note) in notes.iter().enumerate() {
            let targets = self.targets(note);
            if targets.is_empty() {
                debug!(index, "no chat webhook for these systems");
                report.published.push(index);
                continue;
            }
            let (mut accepted, mut refused, mut unavailable) = (0, Vec::new(), Vec::new());
            for hook in targets {
                let body = hook.dialect.body(note.message.as_str());
                match self.post(hook, &body, &mut report.calls).await {
                    Outcome::Accepted => accepted += 1,
                    Outcome::Refused(reason) => refused.push(reason),
                    Outcome::Unavailable => unavailable.push(hook),
                }
            }
            // See the module header: never report deferred once a channel has the message.
            if accepted == 0 && !unavailable.is_empty() {
                report.deferred.push(index);
                continue;
            }
            for hook in &unavailable {
                warn!(system = %hook.route, host = hook.host(), "chat webhook still unavailable; skipped for this message");
            }
            if refused.is_empty() {
                report.published.push(index);
            } else {
                let unavailable =
                    unavailable.iter().map(|h| format!("; chat webhook for {} at {} unavailable", h.route, h.host()));
                report.failed.push((index, refused.join("; ") + &unavailable.collect::<String>()));
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flare_core::notify::ShortMessage;
    use flare_core::{EventKind, Severity};
    use std::sync::{Arc, Mutex};
    use wiremock::matchers::{body_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn env(pairs: Vec<(&'static str, String)>) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
    }

    fn config(webhooks: String) -> ChatConfig {
        ChatConfig::from_env(&env(vec![(WEBHOOKS_VAR, webhooks)])).unwrap().unwrap()
    }

    fn fast() -> Backoff {
        Backoff { max_attempts: 3, base: Duration::from_millis(10), max_delay: Duration::from_millis(20) }
    }

    fn chat(webhooks: String) -> ChatWebhooks {
        ChatWebhooks::new(config(webhooks)).unwrap().with_backoff(fast())
    }

    fn note(message: &str, systems: &[&str]) -> Notification {
        Notification {
            message: ShortMessage::parse("message", message).unwrap(),
            systems: systems.iter().map(|s| SystemId::parse("system", s).unwrap()).collect(),
            severity: Severity::Sev2,
            event: EventKind::Opened,
        }
    }

    fn ok() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_string("ok")
    }

    async fn posts_to(server: &MockServer, at: &str) -> usize {
        server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == at).count()
    }

    #[tokio::test]
    async fn a_notification_goes_to_the_webhooks_of_its_systems_and_to_star() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ok()).mount(&server).await;
        let uri = server.uri();
        let chat = chat(format!("vpn={uri}/vpn; mail={uri}/mail\n*={uri}/all"));

        let report = chat.publish(&[note("INC-1 opened: VPN down", &["vpn"])]).await.unwrap();

        assert_eq!(report.published, [0]);
        assert_eq!(report.calls, 2);
        assert_eq!(posts_to(&server, "/vpn").await, 1);
        assert_eq!(posts_to(&server, "/all").await, 1);
        assert_eq!(posts_to(&server, "/mail").await, 0);
    }

    #[tokio::test]
    async fn systems_sharing_a_webhook_post_to_it_once() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ok()).expect(1).mount(&server).await;
        let uri = server.uri();
        let chat = chat(format!("vpn={uri}/ops;mail={uri}/ops;*={uri}/ops"));

        let report = chat.publish(&[note("INC-2 opened", &["vpn", "mail"])]).await.unwrap();

        assert_eq!(report.published, [0]);
        assert_eq!(report.calls, 1);
    }

    #[tokio::test]
    async fn a_notification_with_no_webhook_for_its_systems_is_published_without_a_call() {
        let server = MockServer::start().await;
        let chat = chat(format!("vpn={}/vpn", server.uri()));

        let report = chat.publish(&[note("INC-3 opened", &["mail"])]).await.unwrap();

        assert_eq!(report.published, [0]);
        assert_eq!(report.calls, 0);
    }

    #[tokio::test]
    async fn the_payload_is_json_text_with_slacks_control_characters_escaped() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .and(wiremock::matchers::header("content-type", "application/json"))
            .and(body_json(json!({ "text": "INC-4 &lt;!channel&gt; R&amp;D down" })))
            .respond_with(ok())
            .expect(1)
            .mount(&server)
            .await;
        let chat = chat(format!("*={}/hook", server.uri()));

        let report = chat.publish(&[note("INC-4 <!channel> R&D down", &["vpn"])]).await.unwrap();

        assert_eq!(report.published, [0]);
    }

    #[tokio::test]
    async fn a_teams_workflow_gets_the_message_as_an_adaptive_card() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
        let mut config = config(format!("*={}/workflow", server.uri()));
        config.webhooks[0].dialect = Dialect::TeamsWorkflow;
        let chat = ChatWebhooks::new(config).unwrap();

        let report = chat.publish(&[note("INC-5 <R&D> down", &["vpn"])]).await.unwrap();

        assert_eq!(report.published, [0]);
        let sent: Value = server.received_requests().await.unwrap()[0].body_json().unwrap();
        assert_eq!(sent["type"], "message");
        let attachment = &sent["attachments"][0];
        assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(attachment["content"]["type"], "AdaptiveCard");
        assert_eq!(attachment["content"]["body"][0]["text"], "INC-5 <R&D> down", "plain text, not Slack-escaped");
    }

    #[test]
    fn the_dialect_is_told_by_the_host() {
        let of = |u: &str| Dialect::of(&Url::parse(u).unwrap());
        assert_eq!(of("https://hooks.slack.com/services/T/B/X"), Dialect::Slack);
        assert_eq!(of("https://acme.webhook.office.com/webhookb2/x"), Dialect::TeamsConnector);
        assert_eq!(of("https://prod-01.westeurope.logic.azure.com:443/workflows/x"), Dialect::TeamsWorkflow);
        assert_eq!(
            of("https://default1.ab.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/x"),
            Dialect::TeamsWorkflow
        );
        assert_eq!(of("https://chat.example.org/hooks/x"), Dialect::Slack);
        assert_eq!(of("https://evil-webhook.office.com.example.org/x"), Dialect::Slack);
    }

    #[tokio::test]
    async fn a_429_is_retried_after_the_time_it_asks_for_and_then_published() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(ok()).mount(&server).await;
        let waits = Arc::new(Mutex::new(Vec::new()));
        let record = waits.clone();
        let chat = chat(format!("*={}/hook", server.uri())).with_pause(Pause::from_fn(move |wait| {
            record.lock().unwrap().push(wait);
            std::future::ready(())
        }));

        let report = chat.publish(&[note("INC-6 opened", &["vpn"])]).await.unwrap();

        assert_eq!(report.published, [0]);
        assert_eq!(report.calls, 2);
        assert_eq!(*waits.lock().unwrap(), [Duration::from_secs(1)], "the wait asked for, not the backoff's");
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_defers_at_once() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
            .mount(&server)
            .await;
        let chat = chat(format!("*={}/hook", server.uri()));

        let report = chat.publish(&[note("INC-7 opened", &["vpn"])]).await.unwrap();

        assert_eq!(report.deferred, [0]);
        assert_eq!(report.calls, 1);
    }

    #[tokio::test]
    async fn a_500_that_outlasts_the_retries_defers_the_notification() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(3).mount(&server).await;
        let chat = chat(format!("*={}/hook", server.uri()));

        let report = chat.publish(&[note("INC-8 opened", &["vpn"])]).await.unwrap();

        assert_eq!(report.deferred, [0]);
        assert!(report.published.is_empty() && report.failed.is_empty());
        assert_eq!(report.calls, 3);
    }

    #[tokio::test]
    async fn a_webhook_that_times_out_defers_the_notification() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ok().set_delay(Duration::from_secs(2))).mount(&server).await;
        let env = env(vec![(WEBHOOKS_VAR, format!("*={}/hook", server.uri())), (TIMEOUT_VAR, "100".into())]);
        let config = ChatConfig::from_env(&env).unwrap().unwrap();
        let chat = ChatWebhooks::new(config).unwrap().with_backoff(Backoff { max_attempts: 2, ..fast() });

        let report = chat.publish(&[note("INC-9 opened", &["vpn"])]).await.unwrap();

        assert_eq!(report.deferred, [0]);
        assert_eq!(report.calls, 2);
    }

    #[tokio::test]
    async fn a_404_fails_the_notification_with_a_reason_that_hides_the_url() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(404).set_body_string("channel_not_found"))
            .expect(1)
            .mount(&server)
            .await;
        let chat = chat(format!("vpn={}/services/T0/B0/SECRETTOKEN", server.uri()));

        let report = chat.publish(&[note("INC-10 opened", &["vpn"])]).await.unwrap();

        let [(0, reason)] = report.failed.as_slice() else { panic!("{report:?}") };
        assert!(reason.contains("404") && reason.contains("channel_not_found") && reason.contains("vpn"), "{reason}");
        assert!(!reason.contains("SECRETTOKEN") && !reason.contains("/services"), "{reason}");
    }

    #[tokio::test]
    async fn a_webhook_still_unavailable_after_another_accepted_is_published_so_no_channel_gets_a_duplicate() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path("/down")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
        Mock::given(method("POST")).and(path("/up")).respond_with(ok()).mount(&server).await;
        let uri = server.uri();
        let chat = chat(format!("vpn={uri}/up; *={uri}/down"));

        let report = chat.publish(&[note("INC-11 opened", &["vpn"])]).await.unwrap();

        assert_eq!(report.published, [0]);
        assert!(report.deferred.is_empty());
        assert_eq!(report.calls, 1 + 3);
    }

    #[tokio::test]
    async fn each_notification_is_reported_by_its_index() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path("/gone")).respond_with(ResponseTemplate::new(410)).mount(&server).await;
        Mock::given(method("POST")).and(path("/vpn")).respond_with(ok()).mount(&server).await;
        let uri = server.uri();
        let chat = chat(format!("vpn={uri}/vpn; mail={uri}/gone"));

        let report = chat.publish(&[note("INC-12 opened", &["mail"]), note("INC-13 opened", &["vpn"])]).await.unwrap();

        assert_eq!(report.published, [1]);
        assert_eq!(report.failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn unset_or_blank_webhooks_configure_nothing() {
        assert!(ChatConfig::from_env(&env(vec![])).unwrap().is_none());
        assert!(ChatConfig::from_env(&env(vec![(WEBHOOKS_VAR, " ; \n ".into())])).unwrap().is_none());
    }

    #[test]
    fn entries_split_on_semicolons_and_new_lines_and_urls_keep_their_equals_signs() {
        let config = config(
            "vpn=https://hooks.slack.com/a?x=1;\n MAIL = https://hooks.slack.com/b\r\n*=https://c.example/".into(),
        );
        let routes: Vec<String> = config.webhooks.iter().map(|w| w.route.to_string()).collect();
        assert_eq!(routes, ["vpn", "mail", "*"]);
        assert_eq!(config.webhooks[0].url.query(), Some("x=1"));
        assert_eq!(config.timeout, DEFAULT_CHAT_TIMEOUT);
    }

    #[test]
    fn a_bad_entry_is_reported_by_variable_and_number_without_its_text() {
        for (value, problem) in [
            ("vpn=https://a.example/1; https://a.example/SECRET", "entry 2 is not system=URL"),
            ("vpn=https://a.example/1; v p n=https://a.example/SECRET", "entry 2 names no system"),
            ("http://a.example/SECRET=x", "entry 1 names no system"),
            ("vpn=http://hooks.example/SECRET", "entry 1 is not https"),
            ("vpn=https://user:SECRET@hooks.example/x", "entry 1 has a user name or password"),
            ("vpn=https://not a url SECRET", "entry 1 cannot be parsed as a URL"),
        ] {
            let e = ChatConfig::from_env(&env(vec![(WEBHOOKS_VAR, value.into())])).unwrap_err().to_string();
            assert!(e.starts_with("FLARE_CHAT_WEBHOOKS is not usable"), "{e}");
            assert!(e.contains(problem), "{value}: {e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn plain_http_is_allowed_only_for_loopback_hosts() {
        for url in ["http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x"] {
            assert!(ChatConfig::from_env(&env(vec![(WEBHOOKS_VAR, format!("*={url}"))])).is_ok(), "{url}");
        }
    }

    #[test]
    fn a_bad_timeout_is_reported_by_its_variable() {
        for ms in ["0", "ten", "300001"] {
            let env = env(vec![(WEBHOOKS_VAR, "*=https://a.example/x".into()), (TIMEOUT_VAR, ms.into())]);
            let e = ChatConfig::from_env(&env).unwrap_err();
            assert!(matches!(e, ConfigError::Invalid { name: TIMEOUT_VAR, .. }), "{ms}: {e}");
        }
    }

    #[test]
    fn debug_shows_the_host_but_never_the_url() {
        let config = config("vpn=https://hooks.slack.com/services/T0/B0/SECRETTOKEN".into());
        let shown = format!("{config:?} {:?}", ChatWebhooks::new(config.clone()).unwrap());
        assert!(shown.contains("hooks.slack.com") && shown.contains("vpn"), "{shown}");
        assert!(!shown.contains("SECRETTOKEN") && !shown.contains("/services"), "{shown}");
    }
}
