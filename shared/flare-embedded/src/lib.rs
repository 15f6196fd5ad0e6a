//! Flare's self-hosted adapters: what `flare serve` runs on one machine, with no cloud services.
//!
//! - [`SqliteStore`]: the [`flare_core::Store`] traits on an embedded SQLite file, migrated on open.
//! - [`SmtpMailer`]: the [`flare_core::notify::Mailer`] port over SMTP (lettre, pooled connections used at
//!   once, paced by [`flare_core::rate`]), configured by [`SmtpConfig::from_env`]. [`FileOutbox`] is the same
//!   mailer over lettre's file transport, writing `.eml` files, for development only; it is never the default.
//!
//! - [`Worker`]: drains the dispatch queue (filled in the same transaction as each timeline event) through
//!   [`flare_core::Dispatcher`], the code the dispatcher Lambda runs for the DynamoDB stream. Its retry
//!   state is each [`QueuedEvent`]'s row, so a restart keeps every event's backoff.
//!
//! - [`ReportSchedule`]: runs [`flare_core::report::Reporter`] on an interval: the post-incident reports as they
//!   fall due, and the weekly digest on Monday.
//!
//! - [`ChatWebhooks`]: the [`flare_core::notify::Publisher`] port over Slack and Teams incoming webhooks.
//!
//! Nothing here is used by the Lambda functions.
//!
//! Layout: `migrations` owns the schema and its versions; `store` owns every read and write, one concept a
//! file; `mail_template` renders the mail templates; `smtp` is the mailer (SMTP or the file outbox) and
//! `smtp_pool` its connections; `chat` posts short notices to chat webhooks; `worker` is the queue's consumer; `reporter` the reports' schedule.

mod chat;
mod mail_template;
mod migrations;
mod reporter;
mod smtp;
mod smtp_pool;
mod store;
mod worker;

pub use chat::{CHAT_WEBHOOKS_MAX, ChatConfig, ChatWebhooks, DEFAULT_CHAT_TIMEOUT};
pub use migrations::SchemaTooNew;
pub use reporter::ReportSchedule;
pub use smtp::{DEFAULT_MAIL_RATE, FileOutbox, POOL_SIZE, SmtpConfig, SmtpMailer, SmtpTls, TransportError};
pub use smtp_pool::{SmtpPool, SmtpSendError};
pub use store::{QueuedEvent, SqliteStore};
pub use worker::{Drained, Worker};
