//! Which ticketing adapter to build: `FLARE_TICKETS` chooses the vendor, whose own module reads its variables
//! (each `*Config` lives beside its adapter; the variables every vendor shares are read in `env`). Read once at
//! start-up from [`Env`]. Each error names the
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
//! Whoever builds the [`Env`] decides where values come from: on AWS the dispatcher lays its Secrets Manager
//! secrets over the environment and hands the result over.

use std::sync::Arc;

use flare_core::config::{ConfigError, Env};
use flare_core::{Clock, SystemClock, TicketSystem};
pub use secrecy::SecretString;

use crate::github::{GitHub, GitHubConfig};
use crate::jira::{Jira, JiraConfig};
use crate::retry::{RetryPolicy, Sender, client};
use crate::servicenow::{ServiceNow, ServiceNowConfig};
use crate::webhook::{Webhook, WebhookConfig};

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
            Some("servicenow") => Self::ServiceNow(ServiceNowConfig::from_env(env)?),
            Some("jira") => Self::Jira(JiraConfig::from_env(env)?),
            Some("github") => Self::GitHub(GitHubConfig::from_env(env)?),
            Some("webhook") => Self::Webhook(WebhookConfig::from_env(env)?),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::Transition;

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
