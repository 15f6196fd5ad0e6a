//! [`FileOutbox`]: a [`Mailer`] for development only, which writes each message as an `.eml` file into a
//! directory instead of sending it, so mail can be read without a mail server.
//!
//! It is never the default: self-hosted Flare sends through [`crate::SmtpMailer`] unless the outbox is chosen
//! explicitly. It renders exactly what the SMTP mailer would send, but it has no rate limit and no retries.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use flare_core::EmailAddress;
use flare_core::notify::{BulkMail, BulkReport, Mail, Mailer, NotifyError};
use lettre::Message;
use lettre::message::Mailbox;

use crate::mail_template::{self, Templates};

const SERVICE: &str = "file outbox";

/// Writes every message to `<dir>/<time>-<n>.eml`. Development only.
#[derive(Debug)]
pub struct FileOutbox {
    dir: PathBuf,
    from: Mailbox,
    templates: Templates,
    next: AtomicU64,
}

impl FileOutbox {
    /// An outbox writing into `dir`, which is created if need be.
    pub fn new(dir: impl Into<PathBuf>, from: &EmailAddress) -> Result<Self, NotifyError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| NotifyError::Permanent { service: SERVICE, source: Box::new(e) })?;
        let from = from.as_str().parse().map_err(|e| NotifyError::Invalid(format!("sender address: {e}")))?;
        Ok(Self { dir, from, templates: Templates::default(), next: AtomicU64::new(0) })
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Registers (or replaces) a template, as [`crate::SmtpMailer::register_template`] does.
    pub fn register_template(&self, name: &str, subject: &str, html: &str, text: &str) {
        self.templates.register(name, subject, html, text);
    }

    async fn write(&self, message: &Message) -> Result<(), NotifyError> {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = self.dir.join(format!("{nanos}-{}.eml", self.next.fetch_add(1, Ordering::Relaxed)));
        let bytes = message.formatted();
        tokio::task::spawn_blocking(move || std::fs::write(path, bytes))
            .await
            .map_err(|e| NotifyError::Transient { service: SERVICE, source: Box::new(e) })?
            .map_err(|e| NotifyError::Transient { service: SERVICE, source: Box::new(e) })
    }
}

#[async_trait]
impl Mailer for FileOutbox {
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
            let message = mail_template::message(
                &self.from,
                &recipient.email,
                &rendered.subject,
                &rendered.html,
                &rendered.text,
            )?;
            report.calls += 1;
            self.write(&message).await?;
            report.sent.push(recipient.email.clone());
        }
        Ok(report)
    }

    async fn send_one(&self, mail: &Mail) -> Result<(), NotifyError> {
        self.write(&mail_template::single(&self.from, mail)?).await
    }
}
