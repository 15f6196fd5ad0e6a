//! [`SmtpMailer`]: the self-hosted adapter of [`Mailer`], over SMTP with lettre.
//!
//! SMTP has no templates and no bulk call, so a bulk mail becomes one message per unique recipient, rendered
//! here ([`crate::mail_template`]) and sent over a pool of reused connections, paced by the same token bucket as
//! the SES adapter ([`flare_core::rate`]). Transient SMTP answers (4xx, dropped connections) are retried with
//! backoff; permanent ones (5xx) are reported per recipient. Who is told, and remembering it, is the
//! dispatcher's job, not this module's.

use std::time::Duration;

use async_trait::async_trait;
use flare_core::EmailAddress;
use flare_core::config::{ConfigError, Env};
use flare_core::notify::{BulkMail, BulkReport, Mail, Mailer, NotifyError};
use flare_core::rate::{Backoff, RateLimiter};
use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use tracing::{instrument, warn};

use crate::mail_template::{self, Templates};

const SERVICE: &str = "SMTP";

/// The default pace when FLARE_MAIL_RATE is unset, in messages per second: gentle on a shared relay.
pub const DEFAULT_MAIL_RATE: f64 = 10.0;

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587 by default).
    StartTls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption (port 25 by default): a relay on the same host, or a test sink. Refused with credentials.
    None,
}

impl SmtpTls {
    fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// Where and how to send, read from the environment by [`SmtpConfig::from_env`].
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    /// Debug-printing the config shows `[REDACTED]` here.
    pub password: Option<SecretString>,
    pub from: EmailAddress,
    /// Messages per second.
    pub rate: f64,
}

impl SmtpConfig {
    /// Reads FLARE_SMTP_HOST, FLARE_SMTP_PORT, FLARE_SMTP_TLS (`starttls`, the default, `tls` or `none`),
    /// FLARE_SMTP_USER and FLARE_SMTP_PASSWORD (both or neither), FLARE_MAIL_FROM and FLARE_MAIL_RATE.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let host = env.required("FLARE_SMTP_HOST", "the SMTP server's host name")?;
        let tls = match env.optional("FLARE_SMTP_TLS").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("starttls") => SmtpTls::StartTls,
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            Some(_) => return Err(ConfigError::Invalid { name: "FLARE_SMTP_TLS", expected: "starttls, tls or none" }),
        };
        let port = match env.optional("FLARE_SMTP_PORT") {
            None => tls.default_port(),
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(ConfigError::Invalid { name: "FLARE_SMTP_PORT", expected: "a TCP port number (1-65535)" })?,
        };
        let user = env.optional("FLARE_SMTP_USER");
        let password = env.optional("FLARE_SMTP_PASSWORD").map(SecretString::from);
        if user.is_some() != password.is_some() {
            let name = if user.is_some() { "FLARE_SMTP_PASSWORD" } else { "FLARE_SMTP_USER" };
            return Err(ConfigError::Missing { name, expected: "a value whenever the other SMTP credential is set" });
        }
        if user.is_some() && tls == SmtpTls::None {
            return Err(ConfigError::Invalid {
                name: "FLARE_SMTP_TLS",
                expected: "starttls or tls when credentials are set, so the password is never sent in clear",
            });
        }
        let from = env.required("FLARE_MAIL_FROM", "the sender's email address").and_then(|v| {
            EmailAddress::parse("FLARE_MAIL_FROM", &v)
                .map_err(|_| ConfigError::Invalid { name: "FLARE_MAIL_FROM", expected: "an email address" })
        })?;
        let rate = match env.optional("FLARE_MAIL_RATE") {
            None => DEFAULT_MAIL_RATE,
            Some(r) => r.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0).ok_or(ConfigError::Invalid {
                name: "FLARE_MAIL_RATE",
                expected: "messages per second, a positive number",
            })?,
        };
        Ok(Self { host, port, tls, user, password, from, rate })
    }
}

/// How long one SMTP command may take before the attempt counts as failed (and transient).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections kept for reuse.
const POOL_SIZE: u32 = 4;

/// Sends Flare's mail over SMTP from one sender.
#[derive(Debug)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    templates: Templates,
    limiter: RateLimiter,
    backoff: Backoff,
}

/// What became of one message after its retries.
enum Outcome {
    Sent,
    Refused(String),
    Deferred(NotifyError),
}

impl SmtpMailer {
    /// A mailer for `config`; it connects on first use, not here.
    pub fn new(config: &SmtpConfig) -> Result<Self, NotifyError> {
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(permanent)?,
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host).map_err(permanent)?
            }
        };
        let mut builder =
            builder.port(config.port).timeout(Some(COMMAND_TIMEOUT)).pool_config(PoolConfig::new().max_size(POOL_SIZE));
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_string()));
        }
        let from: Mailbox =
            config.from.as_str().parse().map_err(|e| NotifyError::Invalid(format!("sender address: {e}")))?;
        Ok(Self {
            transport: builder.build(),
            from,
            templates: Templates::default(),
            limiter: RateLimiter::per_second(config.rate),
            backoff: Backoff::default(),
        })
    }

    /// Replaces the retry schedule for transient failures.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Registers (or replaces) the template a [`BulkMail`] names: subject, HTML and text with `{{name}}`
    /// placeholders, as for SES. Values are HTML-escaped in the HTML part.
    pub fn register_template(&self, name: &str, subject: &str, html: &str, text: &str) {
        self.templates.register(name, subject, html, text);
    }

    /// Sends one message, retrying transient failures; `calls` counts every attempt.
    async fn deliver(&self, message: &Message, calls: &mut usize) -> Outcome {
        let mut last = None;
        for attempt in 1..=self.backoff.max_attempts.max(1) {
            tokio::time::sleep(self.backoff.delay(attempt)).await;
            self.limiter.acquire(1).await;
            *calls += 1;
            match self.transport.send(message.clone()).await {
                Ok(_) => return Outcome::Sent,
                Err(e) if e.is_permanent() => return Outcome::Refused(e.to_string()),
                // 4xx answers, timeouts and dropped connections: the pool opens a fresh connection next time.
                Err(e) => {
                    warn!(error = ?e, attempt, "SMTP send failed; retrying");
                    last = Some(e);
                }
            }
        }
        Outcome::Deferred(match last {
            Some(e) => NotifyError::Transient { service: SERVICE, source: Box::new(e) },
            None => NotifyError::Transient { service: SERVICE, source: "no attempt was made".into() },
        })
    }
}

fn permanent(e: lettre::transport::smtp::Error) -> NotifyError {
    NotifyError::Permanent { service: SERVICE, source: Box::new(e) }
}

#[async_trait]
impl Mailer for SmtpMailer {
    #[instrument(skip_all, fields(template = %mail.template, recipients = mail.recipients.len()))]
    async fn send_bulk(&self, mail: &BulkMail) -> Result<BulkReport, NotifyError> {
        let mut report = BulkReport::default();
        for recipient in mail.unique_recipients() {
            let rendered = match self.templates.render(&mail.template, &mail.shared, &recipient.data)? {
                Ok(rendered) => rendered,
                Err(e) => {
                    report.failed.push((recipient.email.clone(), e.to_string()));
                    continue;
                }
            };
            let message = match mail_template::message(
                &self.from,
                &recipient.email,
                &rendered.subject,
                &rendered.html,
                &rendered.text,
            ) {
                Ok(message) => message,
                Err(e) => {
                    report.failed.push((recipient.email.clone(), e.to_string()));
                    continue;
                }
            };
            match self.deliver(&message, &mut report.calls).await {
                Outcome::Sent => report.sent.push(recipient.email.clone()),
                Outcome::Refused(status) => report.failed.push((recipient.email.clone(), status)),
                // Never dropped: the caller sees them and tries again later.
                Outcome::Deferred(_) => report.deferred.push(recipient.email.clone()),
            }
        }
        if !report.deferred.is_empty() {
            warn!(count = report.deferred.len(), "recipients still failing transiently after retries");
        }
        Ok(report)
    }

    #[instrument(skip_all)]
    async fn send_one(&self, mail: &Mail) -> Result<(), NotifyError> {
        let message = mail_template::single(&self.from, mail)?;
        match self.deliver(&message, &mut 0).await {
            Outcome::Sent => Ok(()),
            Outcome::Refused(status) => Err(NotifyError::Permanent { service: SERVICE, source: status.into() }),
            Outcome::Deferred(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    const BASE: &[(&str, &str)] = &[("FLARE_SMTP_HOST", "mail.example.org"), ("FLARE_MAIL_FROM", "flare@example.org")];

    #[test]
    fn defaults_are_starttls_on_587_at_the_default_rate() {
        let c = SmtpConfig::from_env(&env(BASE)).unwrap();
        assert_eq!((c.tls, c.port, c.rate), (SmtpTls::StartTls, 587, DEFAULT_MAIL_RATE));
        assert!(c.user.is_none() && c.password.is_none());
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let c = SmtpConfig::from_env(&env(&[
            ("FLARE_SMTP_HOST", "mail.example.org"),
            ("FLARE_MAIL_FROM", "flare@example.org"),
            ("FLARE_SMTP_USER", "flare"),
            ("FLARE_SMTP_PASSWORD", "hunter2-secret"),
            ("FLARE_SMTP_TLS", "tls"),
        ]))
        .unwrap();
        assert_eq!((c.tls, c.port), (SmtpTls::Tls, 465));
        assert!(!format!("{c:?}").contains("hunter2-secret"));
    }

    #[test]
    fn credentials_over_an_unencrypted_connection_are_refused() {
        let e = SmtpConfig::from_env(&env(&[
            ("FLARE_SMTP_HOST", "mail.example.org"),
            ("FLARE_MAIL_FROM", "flare@example.org"),
            ("FLARE_SMTP_USER", "flare"),
            ("FLARE_SMTP_PASSWORD", "pw"),
            ("FLARE_SMTP_TLS", "none"),
        ]))
        .unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SMTP_TLS"), "{e}");
    }

    #[test]
    fn a_user_without_a_password_names_the_missing_variable() {
        let e = SmtpConfig::from_env(&env(&[
            ("FLARE_SMTP_HOST", "mail.example.org"),
            ("FLARE_MAIL_FROM", "flare@example.org"),
            ("FLARE_SMTP_USER", "flare"),
        ]))
        .unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SMTP_PASSWORD is not set"), "{e}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in
            [("FLARE_SMTP_TLS", "ssl"), ("FLARE_SMTP_PORT", "0"), ("FLARE_MAIL_RATE", "-1"), ("FLARE_MAIL_FROM", "x")]
        {
            let e = SmtpConfig::from_env(&Env::from_lookup(|n| {
                if n == name {
                    Some(value.to_string())
                } else {
                    BASE.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
                }
            }))
            .unwrap_err();
            assert!(e.to_string().starts_with(name), "{e}");
        }
    }

    #[test]
    fn a_missing_host_is_named() {
        let e = SmtpConfig::from_env(&env(&[("FLARE_MAIL_FROM", "flare@example.org")])).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SMTP_HOST is not set"), "{e}");
    }
}
