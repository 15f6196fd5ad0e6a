//! Flare's self-hosted adapters: what `flare serve` runs on one machine, with no cloud services.
//!
//! - [`SqliteStore`]: the [`flare_core::ports`] store traits on an embedded SQLite file, migrated on open.
//!
//! The SMTP mailer, the worker that drains timeline events to their side effects, and the in-process
//! schedules (poller, reporter) will live here too. Nothing here is used by the Lambda functions.
//!
//! Layout: `migrations` owns the schema and its versions; `store` owns every read and write, one concept a
//! file.

mod migrations;
mod store;

pub use migrations::SchemaTooNew;
pub use store::SqliteStore;
