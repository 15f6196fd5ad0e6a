//! Flare's AWS adapters: the DynamoDB single-table store, the SES mailer and the SNS publisher.
//!
//! - [`schema`]: the table, its indexes, stream and TTL; [`schema::create_table`] for tests and development.
//! - [`dynamodb_client`] / [`local_client`]: clients with explicit retry and timeout configuration.
//! - [`DynamoStore`]: implements the ports of `flare_core` ([`flare_core::ports`]), with incidents in
//!   `store`, the dashboard's window reads in `window`, the catalog in `catalog`, access in `access`, the
//!   delivery ledger in `ledger` and the poller's state in `poll`. Item layout is in `items`, key spelling in
//!   `keys`, the activity markers behind the window reads in `markers`.
//! - [`ses`]: [`SesMailer`], mass mail through SendBulkTemplatedEmail and reports through SendRawEmail, paced by
//!   [`rate`]; [`sns`]: [`SnsPublisher`], PublishBatch with filterable attributes.
//! - [`lambda`]: what a function reads from its environment at cold start, and the HTTP functions' SSO glue
//!   (API Gateway's verified JWT claims to a caller); [`secrets`]: the one Secrets Manager secret laid over
//!   that environment.
//! - [`reporter`]: the reporter function's configuration and its two scheduled jobs (due reports, the digest).
//! - [`stream`]: the dispatcher's DynamoDB stream handler, which picks out new timeline events and reports
//!   partial batch failures.
//! - [`incident_records`]: the items that record one incident, for bulk loaders such as the benchmark.

mod access;
mod catalog;
mod client;
mod error;
mod items;
mod keys;
pub mod lambda;
mod ledger;
mod markers;
mod poll;
pub mod rate;
mod reads;
pub mod reporter;
pub mod schema;
pub mod secrets;
pub mod ses;
pub mod sns;
mod store;
pub mod stream;
mod txn;
mod window;

pub use client::{dynamodb_client, local_client};
pub use items::{Item, incident_records};
pub use ses::{SesMailer, local_ses_client, ses_client};
pub use sns::{SnsPublisher, local_sns_client, sns_client};
pub use store::DynamoStore;
