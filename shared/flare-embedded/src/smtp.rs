//! [`SmtpMailer`]: the self-hosted adapter of [`Mailer`], over any lettre transport: SMTP in production, and
//! `.eml` files ([`FileOutbox`]) for development, through the same render-and-send loop.
//!
//! SMTP has no templates and no bulk call, so a bulk mail becomes one message per unique recipient, rendered
//! here ([`crate::mail_template`]) and sent over a pool of reused connections, as many at once as the pool holds,
//! paced by the same limiter as the SES adapter ([`flare_core::rate`]). Transient answers (4xx, dropped
//! connections) are retried with backoff; permanent ones (5xx), and messages that cannot be built, are reported
//! per recipient. Who is told, and remembering it, is the dispatcher's job, not this module's: it hands over
//! [`Mailer::batch_size`] recipients at a time so that a crash re-sends at most the messages in flight.

use std::error::Error as StdError;
use std::path::Path;

use async_trait::async_trait;
use flare_core::EmailAddress;
use flare_core::config::{ConfigError, Env};
use flare_core::notify::{BulkMail, BulkReport, Mail, Mailer, NotifyError, Recipient};
use flare_core::{rate::RateLimiter, retry::Backoff};
use futures::{StreamExt, stream};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use tracing::{instrument, warn};

use crate::mail_template::{self, Templates};
use crate::smtp_pool::SmtpPool;

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

/// Open connections kept for reuse, and so messages in flight at once.
pub const POOL_SIZE: u32 = 4;

/// The development outbox: the same mailer, writing each message as an `.eml` file instead of sending it.
pub type FileOutbox = SmtpMailer<AsyncFileTransport<Tokio1Executor>>;

/// Whether a transport's failure is for good (the server refused this message) or may pass (4xx, a dropped
/// connection, a full disk).
pub trait TransportError: StdError + Send + Sync + 'static {
    fn is_permanent(&self) -> bool;
}

impl TransportError for lettre::transport::file::Error {
    /// A file that could not be written may be writable later (space freed, permissions fixed).
    fn is_permanent(&self) -> bool {
        false
    }
}

/// Renders Flare's mail and sends it from one sender through a lettre transport: SMTP in production, `.eml`
/// files ([`FileOutbox`]) in development.
#[derive(Debug)]
pub struct SmtpMailer<T = SmtpPool> {
    transport: T,
    from: Mailbox,
    templates: Templates,
    /// None for the outbox, which has no server to spare.
    limiter: Option<RateLimiter>,
    backoff: Backoff,
    /// Messages sent at once: one per pooled connection.
    concurrency: usize,
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
        let credentials = match (&config.user, &config.password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password.expose_secret().to_string())),
            _ => None,
        };
        let pool = SmtpPool::new(&config.host, config.port, config.tls, credentials, POOL_SIZE as usize);
        Self::with_transport(pool, &config.from, Some(RateLimiter::per_second(config.rate)))
    }
}

impl FileOutbox {
    /// An outbox writing into `dir`, which is created if need be. Development only: never the default.
    pub fn outbox(dir: impl AsRef<Path>, from: &EmailAddress) -> Result<Self, NotifyError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| NotifyError::Permanent { service: SERVICE, source: Box::new(e) })?;
        Self::with_transport(AsyncFileTransport::new(dir), from, None)
    }
}

impl<T> SmtpMailer<T> {
    fn with_transport(transport: T, from: &EmailAddress, limiter: Option<RateLimiter>) -> Result<Self, NotifyError> {
        let from: Mailbox = from.as_str().parse().map_err(|e| NotifyError::Invalid(format!("sender address: {e}")))?;
        Ok(Self {
            transport,
            from,
            templates: Templates::default(),
            limiter,
            backoff: Backoff::default(),
            concurrency: POOL_SIZE as usize,
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
}

impl<T> SmtpMailer<T>
where
    T: AsyncTransport + Send + Sync,
    T::Error: TransportError,
{
    /// Sends one message, retrying transient failures; returns what became of it and the attempts made.
    async fn deliver(&self, message: &Message) -> (Outcome, usize) {
        let mut last = None;
        let attempts = self.backoff.max_attempts.max(1);
        for attempt in 1..=attempts {
            let delay = self.backoff.delay(attempt);
            // Even a zero sleep waits for the timer's next tick (a millisecond), which would cap each
            // connection at a thousand messages a second.
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some(limiter) = &self.limiter {
                limiter.acquire(1).await;
            }
            match self.transport.send(message.clone()).await {
                Ok(_) => return (Outcome::Sent, attempt as usize),
                Err(e) if e.is_permanent() => return (Outcome::Refused(e.to_string()), attempt as usize),
                // 4xx answers, timeouts and dropped connections: the pool opens a fresh connection next time.
                Err(e) => {
                    warn!(error = ?e, attempt, "mail send failed; retrying");
                    last = Some(e);
                }
            }
        }
        let source: Box<dyn StdError + Send + Sync> = match last {
            Some(e) => Box::new(e),
            None => "no attempt was made".into(),
        };
        (Outcome::Deferred(NotifyError::Transient { service: SERVICE, source }), attempts as usize)
    }

    /// One recipient's message, or why it cannot be built (reported for that recipient alone).
    fn compose(&self, mail: &BulkMail, recipient: &Recipient) -> Result<Result<Message, String>, NotifyError> {
        let rendered = match self.templates.render(&mail.template, &mail.shared, &recipient.data)? {
            Ok(rendered) => rendered,
            Err(e) => return Ok(Err(e.to_string())),
        };
        Ok(mail_template::message(&self.from, &recipient.email, &rendered.subject, &rendered.html, &rendered.text)
            .map_err(|e| e.to_string()))
    }
}

#[async_trait]
impl<T> Mailer for SmtpMailer<T>
where
    T: AsyncTransport + Send + Sync,
    T::Error: TransportError,
{
    /// Renders every recipient's message, then sends them over the pool's connections at once, in input order
    /// in the report. A message that cannot be built, or that the server refuses, fails that recipient alone.
    #[instrument(skip_all, fields(template = %mail.template, recipients = mail.recipients.len()))]
    async fn send_bulk(&self, mail: &BulkMail) -> Result<BulkReport, NotifyError> {
        let mut report = BulkReport::default();
        let mut messages = Vec::new();
        for recipient in mail.unique_recipients() {
            match self.compose(mail, recipient)? {
                Ok(message) => messages.push((recipient.email.clone(), message)),
                Err(reason) => report.failed.push((recipient.email.clone(), reason)),
            }
        }
        let outcomes: Vec<_> = stream::iter(messages)
            .map(|(email, message)| async move { (email, self.deliver(&message).await) })
            .buffered(self.concurrency)
            .collect()
            .await;
        for (email, (outcome, calls)) in outcomes {
            report.calls += calls;
            match outcome {
                Outcome::Sent => report.sent.push(email),
                Outcome::Refused(status) => report.failed.push((email, status)),
                // Never dropped: the caller sees them and tries again later.
                Outcome::Deferred(_) => report.deferred.push(email),
            }
        }
        if !report.deferred.is_empty() {
            warn!(count = report.deferred.len(), "recipients still failing transiently after retries");
        }
        Ok(report)
    }

    /// As many as go out at once: a crash re-sends at most the messages in flight.
    fn batch_size(&self) -> usize {
        self.concurrency
    }

    #[instrument(skip_all)]
    async fn send_one(&self, mail: &Mail) -> Result<(), NotifyError> {
        let message = mail.message(&self.from)?;
        match self.deliver(&message).await.0 {
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

    /// The render-and-send loop over a real transport: lettre's file transport in a fresh directory.
    mod loop_over_files {
        use std::collections::BTreeMap;
        use std::time::Duration;

        use super::*;

        fn email(raw: &str) -> EmailAddress {
            EmailAddress::parse("email", raw).unwrap()
        }

        fn recipient(address: &str, name: Option<&str>) -> Recipient {
            let data = name.map(|n| BTreeMap::from([("name".to_string(), n.to_string())])).unwrap_or_default();
            Recipient { email: email(address), data }
        }

        fn outbox(dir: &Path) -> FileOutbox {
            let outbox = FileOutbox::outbox(dir, &email("flare@example.org")).unwrap().with_backoff(Backoff {
                max_attempts: 3,
                base: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            });
            outbox.register_template("t", "INC-1 for {{name}}", "<p>{{name}}</p>", "{{name}}");
            outbox
        }

        fn bulk(recipients: Vec<Recipient>) -> BulkMail {
            BulkMail { template: "t".to_string(), shared: BTreeMap::new(), recipients }
        }

        fn written(dir: &Path) -> Vec<String> {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .map(|p| std::fs::read_to_string(p).unwrap())
                .collect()
        }

        #[tokio::test]
        async fn a_recipient_whose_message_cannot_be_rendered_fails_alone_and_the_rest_are_sent() {
            let dir = tempfile::tempdir().unwrap();
            let mail = bulk(vec![
                recipient("ada@example.org", Some("Ada")),
                recipient("nameless@example.org", None),
                recipient("bob@example.org", Some("Bob")),
            ]);

            let report = outbox(dir.path()).send_bulk(&mail).await.unwrap();

            assert_eq!(report.sent, [email("ada@example.org"), email("bob@example.org")]);
            assert_eq!(report.failed.len(), 1, "{report:?}");
            assert_eq!(report.failed[0].0, email("nameless@example.org"));
            assert!(report.failed[0].1.contains("name"), "{report:?}");
            assert_eq!(written(dir.path()).len(), 2);
        }

        #[tokio::test]
        async fn every_unique_recipient_gets_one_message_and_the_report_keeps_their_order() {
            let dir = tempfile::tempdir().unwrap();
            let addresses: Vec<String> = (0..25).map(|i| format!("user{i}@example.org")).collect();
            let mut recipients: Vec<_> = addresses.iter().map(|a| recipient(a, Some("U"))).collect();
            recipients.push(recipient("USER3@example.org", Some("again")));

            let report = outbox(dir.path()).send_bulk(&bulk(recipients)).await.unwrap();

            let sent: Vec<&str> = report.sent.iter().map(|e| e.as_str()).collect();
            assert_eq!(sent, addresses.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(report.calls, 25);
            assert_eq!(written(dir.path()).len(), 25);
        }

        #[tokio::test]
        async fn a_transport_failing_on_every_attempt_defers_the_recipient_after_the_backoff_attempts() {
            let dir = tempfile::tempdir().unwrap();
            let gone = dir.path().join("gone");
            let mailer = outbox(&gone);
            std::fs::remove_dir(&gone).unwrap();

            let report = mailer.send_bulk(&bulk(vec![recipient("ada@example.org", Some("Ada"))])).await.unwrap();

            assert_eq!(report.deferred, [email("ada@example.org")]);
            assert!(report.sent.is_empty() && report.failed.is_empty(), "{report:?}");
            assert_eq!(report.calls, 3, "every attempt of the backoff is made");
        }

        #[tokio::test]
        async fn an_unknown_template_fails_the_whole_send_before_anything_goes_out() {
            let dir = tempfile::tempdir().unwrap();
            let mut mail = bulk(vec![recipient("ada@example.org", Some("Ada"))]);
            mail.template = "missing".to_string();

            assert!(outbox(dir.path()).send_bulk(&mail).await.is_err());
            assert!(written(dir.path()).is_empty());
        }

        #[test]
        fn the_dispatcher_is_handed_as_many_recipients_as_the_pool_sends_at_once() {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(outbox(dir.path()).batch_size(), POOL_SIZE as usize);
        }
    }
}
