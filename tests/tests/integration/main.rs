//! Flare's integration tests: whole flows against real local services, in one test binary.
//!
//! - `contract`: the storage contract, each case written once and run against every adapter — SQLite in a
//!   temporary file and DynamoDB Local (started by `scripts/test`, which exports its endpoint).
//! - `lambda`: API Gateway events from `events/` through the intake and dashboard routers, on DynamoDB Local.
//! - `notify_aws`: the SES mailer and SNS publisher against moto's server (also started by `scripts/test`).
//! - `notify_smtp`: the SMTP mailer against a real SMTP sink (aiosmtpd, started by `scripts/test`), and the
//!   development file outbox.
//! - `dispatch_aws`: an incident opened through the intake router, read back from DynamoDB Local's own stream and
//!   delivered by the dispatcher Lambda's handler through moto (SES, SNS) and a ServiceNow contract server; a
//!   redelivered batch and a run that fails half-way.
//! - `dispatch_smtp`: the self-hosted worker draining SQLite's dispatch queue to the SMTP sink, and unsubscribing.
//! - `report`: the reporter with the test's clock: post-incident reports once after the delay (SMTP sink, SQLite;
//!   SES on moto, DynamoDB Local), across a reopen and overlapping runs, and the digest's MIME parsed back.
//! - `stream`: DynamoDB Local's own stream read back as Lambda stream events (`stream::StreamReader`), and
//!   which of its records are timeline events.
//! - `poll_dynamodb`: a sheet polled by the poller (served by a local fixture server) into DynamoDB Local.
//! - `secrets`: the dispatcher's Secrets Manager secret, read from moto and laid over the environment.
//! - `template`: `infra/template.yaml` declares the table the store defines, and the dispatcher's stream mapping
//!   and permissions.
//!
//! A service that is missing fails the run with a message saying how to start it; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod dispatch_aws;
mod dispatch_smtp;
mod lambda;
mod notify_aws;
mod notify_smtp;
mod poll_dynamodb;
mod report;
mod secrets;
mod stream;
mod support;
mod template;
