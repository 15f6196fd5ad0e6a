//! Typed configuration of the ticketing adapter, read once at start-up from [`Env`]. Each error names the
//! variable. Secrets are held as [`SecretString`], whose `Debug` prints a placeholder, and are exposed only when a
//! request is signed or authorised.
//!
//! | variable | holds |
//! |---|---|
//! | `FLARE_TICKETS` | `servicenow`, `jira`, `github`, `webhook` or `none` (absent means none) |
//! | `FLARE_TICKETS_ATTEMPTS` | attempts per request, 1 to 10 (default 4) |
//! | `FLARE_TICKETS_TIMEOUT_MS` | per-attempt timeout (default 10000) |
//! | `FLARE_TICKETS_BACKOFF_MS` | first backoff, doubled per failure with jitter (default 500) |
//! | `FLARE_TICKETS_RETRY_AFTER_MAX_SECS` | longest `Retry-After` waited for in place (default 30) |
//! | `FLARE_SERVICENOW_URL` | instance, `https://acme.service-now.com` |
//! | `FLARE_SERVICENOW_USER` + `FLARE_SERVICENOW_PASSWORD`, or `FLARE_SERVICENOW_TOKEN` | basic or bearer auth |
//! | `FLARE_SERVICENOW_COMMENT_FIELD` | `work_notes` (default, internal) or `comments` (customer-visible) |
//! | `FLARE_SERVICENOW_CLOSE_CODE` | resolution code (default `Solution provided`) |
//! | `FLARE_JIRA_URL`, `FLARE_JIRA_EMAIL`, `FLARE_JIRA_API_TOKEN`, `FLARE_JIRA_PROJECT` | site, account, project key |
//! | `FLARE_JIRA_ISSUE_TYPE` | issue type name (default `Task`) |
//! | `FLARE_JIRA_RESOLVE_TRANSITION`, `FLARE_JIRA_REOPEN_TRANSITION` | name or numeric id (`Done`, `To Do`) |
//! | `FLARE_GITHUB_REPO`, `FLARE_GITHUB_TOKEN` | `owner/repo` and a token that may write issues |
//! | `FLARE_GITHUB_API_URL` | API root (default `https://api.github.com`; Enterprise: `https://host/api/v3`) |
//! | `FLARE_WEBHOOK_URL`, `FLARE_WEBHOOK_SECRET` | receiver and HMAC key (at least 16 characters) |
//!
//! URLs must be `https`, except on a loopback host (development and tests), and must not carry credentials.
//! Whoever builds the [`Env`] decides where values come from: on AWS the dispatcher resolves the secrets from SSM
//! Parameter Store or Secrets Manager and hands them over through [`Env::from_lookup`].

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;

use flare_core::config::{ConfigError, Env};
use flare_core::{Clock, SystemClock, TicketSystem};
use reqwest::Url;
pub use secrecy::SecretString;

use crate::github::GitHub;
use crate::jira::Jira;
use crate::retry::{RetryPolicy, Sender, client};
use crate::servicenow::ServiceNow;
use crate::webhook::Webhook;

/// Why the ticketing adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the HTTP client for the ticketing system could not start")]
    Client(#[source] reqwest::Error),
}

/// Which ticketing system, and how to reach it.
#[derive(Debug)]
pub enum TicketsConfig {
    ServiceNow(ServiceNowConfig),
    Jira(JiraConfig),
    GitHub(GitHubConfig),
    Webhook(WebhookConfig),
}

#[derive(Debug)]
pub enum ServiceNowAuth {
    Basic { user: String, password: SecretString },
    Bearer(SecretString),
}

#[derive(Debug)]
pub struct ServiceNowConfig {
    /// The instance, without a trailing slash.
    pub(crate) instance: String,
    pub(crate) auth: ServiceNowAuth,
    /// `work_notes` or `comments`.
    pub(crate) comment_field: &'static str,
    pub(crate) close_code: String,
    pub(crate) retry: RetryPolicy,
}

/// A Jira workflow transition, chosen by its id or by its name (or the name of the status it leads to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Id(String),
    Name(String),
}

#[derive(Debug)]
pub struct JiraConfig {
    pub(crate) site: String,
    pub(crate) email: String,
    pub(crate) api_token: SecretString,
    pub(crate) project: String,
    pub(crate) issue_type: String,
    pub(crate) resolve: Transition,
    pub(crate) reopen: Transition,
    pub(crate) retry: RetryPolicy,
}

#[derive(Debug)]
pub struct GitHubConfig {
    pub(crate) api: String,
    pub(crate) owner: String,
    pub(crate) repo: String,
    pub(crate) token: SecretString,
    pub(crate) retry: RetryPolicy,
}

#[derive(Debug)]
pub struct WebhookConfig {
    pub(crate) url: Url,
    pub(crate) secret: SecretString,
    pub(crate) retry: RetryPolicy,
}

/// The configured ticketing system, ready to use, or `None` when `FLARE_TICKETS` is absent or `none`.
pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Option<Box<dyn TicketSystem>>, SetupError> {
    TicketsConfig::from_env(env)?.map(TicketsConfig::build).transpose()
}

impl TicketsConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Option<Self>, ConfigError> {
        const KIND: &str = "FLARE_TICKETS";
        const KINDS: &str = "one of servicenow, jira, github, webhook or none";
        let kind = env.optional(KIND).map(|k| k.to_ascii_lowercase());
        let config = match kind.as_deref() {
            None | Some("none") => return Ok(None),
            Some("servicenow") => Self::ServiceNow(servicenow(env)?),
            Some("jira") => Self::Jira(jira(env)?),
            Some("github") => Self::GitHub(github(env)?),
            Some("webhook") => Self::Webhook(webhook(env)?),
            Some(_) => return Err(ConfigError::Invalid { name: KIND, expected: KINDS }),
        };
        Ok(Some(config))
    }

    /// The adapter, with its HTTP client, on the system clock.
    pub fn build(self) -> Result<Box<dyn TicketSystem>, SetupError> {
        self.build_with_clock(Arc::new(SystemClock))
    }

    /// The adapter, with its HTTP client; `clock` stamps what is signed (the webhook's timestamp).
    pub fn build_with_clock(self, clock: Arc<dyn Clock>) -> Result<Box<dyn TicketSystem>, SetupError> {
        let sender = |vendor, policy: RetryPolicy| {
            client(&policy).map(|c| Sender::new(c, vendor, policy)).map_err(SetupError::Client)
        };
        Ok(match self {
            Self::ServiceNow(c) => Box::new(ServiceNow::new(sender("servicenow", c.retry)?, c)),
            Self::Jira(c) => Box::new(Jira::new(sender("jira", c.retry)?, c)),
            Self::GitHub(c) => Box::new(GitHub::new(sender("github", c.retry)?, c)),
            Self::Webhook(c) => Box::new(Webhook::new(sender("webhook", c.retry)?, c, clock)),
        })
    }
}

fn retry<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<RetryPolicy, ConfigError> {
    let d = RetryPolicy::default();
    let attempts = number(env, "FLARE_TICKETS_ATTEMPTS", "a number of attempts from 1 to 10", 1..=10)?;
    let timeout = number(env, "FLARE_TICKETS_TIMEOUT_MS", "milliseconds from 1 to 120000", 1..=120_000)?;
    let backoff = number(env, "FLARE_TICKETS_BACKOFF_MS", "milliseconds from 0 to 60000", 0..=60_000)?;
    let retry_after = number(env, "FLARE_TICKETS_RETRY_AFTER_MAX_SECS", "seconds from 0 to 3600", 0..=3600)?;
    Ok(RetryPolicy {
        attempts: attempts.map_or(d.attempts, |n| n as u32),
        timeout: timeout.map_or(d.timeout, Duration::from_millis),
        backoff: backoff.map_or(d.backoff, Duration::from_millis),
        max_retry_after: retry_after.map_or(d.max_retry_after, Duration::from_secs),
    })
}

fn servicenow<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<ServiceNowConfig, ConfigError> {
    let instance =
        url(env, "FLARE_SERVICENOW_URL", "the https URL of the instance, like https://acme.service-now.com")?;
    let auth = match env.optional("FLARE_SERVICENOW_TOKEN") {
        Some(token) => ServiceNowAuth::Bearer(token.into()),
        None => ServiceNowAuth::Basic {
            user: env.required("FLARE_SERVICENOW_USER", "the integration user (or set FLARE_SERVICENOW_TOKEN)")?,
            password: env.required("FLARE_SERVICENOW_PASSWORD", "the integration user's password")?.into(),
        },
    };
    let comment_field = match env.optional("FLARE_SERVICENOW_COMMENT_FIELD").as_deref() {
        None | Some("work_notes") => "work_notes",
        Some("comments") => "comments",
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "FLARE_SERVICENOW_COMMENT_FIELD",
                expected: "work_notes or comments",
            });
        }
    };
    Ok(ServiceNowConfig {
        instance: instance.as_str().trim_end_matches('/').to_string(),
        auth,
        comment_field,
        close_code: env.optional("FLARE_SERVICENOW_CLOSE_CODE").unwrap_or_else(|| "Solution provided".into()),
        retry: retry(env)?,
    })
}

fn jira<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<JiraConfig, ConfigError> {
    let site = url(env, "FLARE_JIRA_URL", "the https URL of the Jira site, like https://acme.atlassian.net")?;
    let project = env.required("FLARE_JIRA_PROJECT", "the key of the Jira project, like OPS")?;
    if !project.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ConfigError::Invalid { name: "FLARE_JIRA_PROJECT", expected: "a Jira project key, like OPS" });
    }
    let transition = |name, default: &str| {
        let raw = env.optional(name).unwrap_or_else(|| default.to_string());
        if raw.bytes().all(|b| b.is_ascii_digit()) { Transition::Id(raw) } else { Transition::Name(raw) }
    };
    Ok(JiraConfig {
        site: site.as_str().trim_end_matches('/').to_string(),
        email: env.required("FLARE_JIRA_EMAIL", "the email address of the Jira account Flare acts as")?,
        api_token: env.required("FLARE_JIRA_API_TOKEN", "an API token of that Jira account")?.into(),
        project,
        issue_type: env.optional("FLARE_JIRA_ISSUE_TYPE").unwrap_or_else(|| "Task".into()),
        resolve: transition("FLARE_JIRA_RESOLVE_TRANSITION", "Done"),
        reopen: transition("FLARE_JIRA_REOPEN_TRANSITION", "To Do"),
        retry: retry(env)?,
    })
}

fn github<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<GitHubConfig, ConfigError> {
    const REPO: &str = "FLARE_GITHUB_REPO";
    const REPO_EXPECTED: &str = "the repository as owner/repo";
    let api = match env.optional("FLARE_GITHUB_API_URL") {
        Some(_) => url(env, "FLARE_GITHUB_API_URL", "the https URL of the GitHub API, like https://api.github.com")?,
        None => Url::parse("https://api.github.com").map_err(|_| ConfigError::Invalid {
            name: "FLARE_GITHUB_API_URL",
            expected: "the https URL of the GitHub API",
        })?,
    };
    let repo = env.required(REPO, REPO_EXPECTED)?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let (owner, name) = repo
        .split_once('/')
        .filter(|(o, r)| ok(o) && ok(r))
        .ok_or(ConfigError::Invalid { name: REPO, expected: REPO_EXPECTED })?;
    Ok(GitHubConfig {
        api: api.as_str().trim_end_matches('/').to_string(),
        owner: owner.to_string(),
        repo: name.to_string(),
        token: env.required("FLARE_GITHUB_TOKEN", "a GitHub token that may write issues in the repository")?.into(),
        retry: retry(env)?,
    })
}

fn webhook<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<WebhookConfig, ConfigError> {
    const SECRET: &str = "FLARE_WEBHOOK_SECRET";
    const SECRET_EXPECTED: &str = "the shared HMAC key, at least 16 characters";
    let secret = env.required(SECRET, SECRET_EXPECTED)?;
    if secret.chars().count() < 16 {
        return Err(ConfigError::Invalid { name: SECRET, expected: SECRET_EXPECTED });
    }
    Ok(WebhookConfig {
        url: url(env, "FLARE_WEBHOOK_URL", "the https URL that receives Flare's ticket events")?,
        secret: secret.into(),
        retry: retry(env)?,
    })
}

/// An https URL (http only on a loopback host) that carries no credentials.
fn url<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    name: &'static str,
    expected: &'static str,
) -> Result<Url, ConfigError> {
    let bad = ConfigError::Invalid { name, expected };
    let url = Url::parse(&env.required(name, expected)?).map_err(|_| bad.clone())?;
    let host = url.host_str().ok_or(bad.clone())?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || !url.username().is_empty() || url.password().is_some() {
        return Err(bad);
    }
    Ok(url)
}

fn number<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    name: &'static str,
    expected: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    env.optional(name)
        .map(|raw| raw.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or(ConfigError::Invalid { name, expected }))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn no_ticketing_system_is_configured_by_default() {
        assert!(TicketsConfig::from_env(&env(&[])).unwrap().is_none());
        assert!(TicketsConfig::from_env(&env(&[("FLARE_TICKETS", "none")])).unwrap().is_none());
    }

    #[test]
    fn an_unknown_kind_lists_the_choices() {
        let e = TicketsConfig::from_env(&env(&[("FLARE_TICKETS", "zendesk")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "FLARE_TICKETS is not usable: it should hold one of servicenow, jira, github, webhook or none"
        );
    }

    #[test]
    fn a_missing_password_is_named() {
        let e = TicketsConfig::from_env(&env(&[
            ("FLARE_TICKETS", "servicenow"),
            ("FLARE_SERVICENOW_URL", "https://acme.service-now.com"),
            ("FLARE_SERVICENOW_USER", "flare"),
        ]))
        .unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SERVICENOW_PASSWORD is not set"), "{e}");
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for (url, ok) in [
            ("http://acme.service-now.com", false),
            ("https://user:pw@acme.service-now.com", false),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080/", true),
        ] {
            let lookup = move |name: &str| match name {
                "FLARE_TICKETS" => Some("servicenow".to_string()),
                "FLARE_SERVICENOW_URL" => Some(url.to_string()),
                "FLARE_SERVICENOW_TOKEN" => Some("t0ken".to_string()),
                _ => None,
            };
            assert_eq!(TicketsConfig::from_env(&Env::from_lookup(lookup)).is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn a_numeric_transition_is_an_id_and_anything_else_a_name() {
        let c = TicketsConfig::from_env(&env(&[
            ("FLARE_TICKETS", "jira"),
            ("FLARE_JIRA_URL", "https://acme.atlassian.net"),
            ("FLARE_JIRA_EMAIL", "flare@acme.example"),
            ("FLARE_JIRA_API_TOKEN", "t0ken"),
            ("FLARE_JIRA_PROJECT", "OPS"),
            ("FLARE_JIRA_RESOLVE_TRANSITION", "31"),
        ]))
        .unwrap();
        let Some(TicketsConfig::Jira(j)) = c else { panic!("not jira") };
        assert_eq!(j.resolve, Transition::Id("31".into()));
        assert_eq!(j.reopen, Transition::Name("To Do".into()));
    }

    #[test]
    fn attempts_out_of_range_are_refused() {
        let e = TicketsConfig::from_env(&env(&[
            ("FLARE_TICKETS", "webhook"),
            ("FLARE_WEBHOOK_URL", "https://hooks.acme.example/flare"),
            ("FLARE_WEBHOOK_SECRET", "0123456789abcdef"),
            ("FLARE_TICKETS_ATTEMPTS", "0"),
        ]))
        .unwrap_err();
        assert!(e.to_string().starts_with("FLARE_TICKETS_ATTEMPTS is not usable"), "{e}");
    }
}
