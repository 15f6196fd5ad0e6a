//! Which notification channels `flare serve` delivers to, chosen from the environment: SMTP mail (or, for
//! development only, a file outbox), chat webhooks, and a ticketing system. A channel that is not configured
//! is skipped; one that is configured wrongly stops the start with an error naming the variable.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use flare_core::EmailAddress;
use flare_core::config::Env;
use flare_core::{Channels, NOTICE};
use flare_embedded::{ChatConfig, ChatWebhooks, FileOutbox, SmtpConfig, SmtpMailer};

/// The channels configured in `env`; `outbox` replaces SMTP by `.eml` files.
pub(crate) fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>, outbox: Option<&Path>) -> anyhow::Result<Channels> {
    let mut channels = Channels::default();
    if let Some(dir) = outbox {
        let from = env.optional("FLARE_MAIL_FROM").unwrap_or_else(|| "flare@localhost.localdomain".into());
        let from = EmailAddress::parse("FLARE_MAIL_FROM", &from).context("FLARE_MAIL_FROM must be an email address")?;
        let outbox =
            FileOutbox::outbox(dir, &from).with_context(|| format!("cannot write to the outbox {}", dir.display()))?;
        outbox.register_template(NOTICE.name, NOTICE.subject, NOTICE.html, NOTICE.text);
        channels.mailer = Some(Arc::new(outbox));
    } else if env.optional("FLARE_SMTP_HOST").is_some() {
        let config = SmtpConfig::from_env(env)?;
        let mailer = SmtpMailer::new(&config).context("cannot set up the SMTP mailer")?;
        mailer.register_template(NOTICE.name, NOTICE.subject, NOTICE.html, NOTICE.text);
        channels.mailer = Some(Arc::new(mailer));
    }
    if let Some(config) = ChatConfig::from_env(env)? {
        channels.publisher = Some(Arc::new(ChatWebhooks::new(config).context("cannot set up the chat webhooks")?));
    }
    channels.tickets = flare_tickets::from_env(env).context("cannot set up the ticketing system")?.map(Arc::from);
    Ok(channels)
}

/// One line for the operator saying where notices go, and what to set for what is missing.
pub(crate) fn describe(channels: &Channels) -> String {
    let mail = if channels.mailer.is_some() { "mail on" } else { "mail off (set FLARE_SMTP_HOST)" };
    let chat = if channels.publisher.is_some() { "chat on" } else { "chat off (set FLARE_CHAT_WEBHOOKS)" };
    let tickets = channels
        .tickets
        .as_ref()
        .map_or_else(|| "tickets off (set FLARE_TICKETS)".to_string(), |t| format!("tickets in {}", t.kind()));
    format!("Notifications: {mail}; {chat}; {tickets}.")
}

/// A mailer that sends nothing, for `flare report preview`, which only renders.
#[derive(Debug)]
pub(crate) struct NoMail;

#[async_trait::async_trait]
impl flare_core::notify::Mailer for NoMail {
    async fn send_bulk(
        &self,
        _: &flare_core::notify::BulkMail,
    ) -> Result<flare_core::notify::BulkReport, flare_core::notify::NotifyError> {
        Err(flare_core::notify::NotifyError::Invalid("previews send nothing".into()))
    }

    async fn send_one(&self, _: &flare_core::notify::Mail) -> Result<(), flare_core::notify::NotifyError> {
        Err(flare_core::notify::NotifyError::Invalid("previews send nothing".into()))
    }
}
