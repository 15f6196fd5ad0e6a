//! Flare's integration tests: whole flows against real local services, in one test binary.
//!
//! - `contract`: the storage contract, each case written once and run against every adapter — SQLite in a
//!   temporary file and DynamoDB Local (started by `scripts/test`, which exports its endpoint).
//! - `lambda`: API Gateway events from `events/` through the intake and dashboard routers, on DynamoDB Local.
//! - `notify_aws`: the SES mailer and SNS publisher against moto's server (also started by `scripts/test`).
//! - `notify_smtp`: the SMTP mailer against a real SMTP sink (aiosmtpd, started by `scripts/test`), and the
//!   development file outbox.
//! - `template`: `infra/template.yaml` declares the table the store defines.
//!
//! A service that is missing fails the run with a message saying how to start it; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod lambda;
mod notify_aws;
mod notify_smtp;
mod support;
mod template;
