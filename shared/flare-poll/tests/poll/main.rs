//! The poller against a real fixture server (axum on 127.0.0.1, answering with the redirects, sheets and
//! health answers each test sets) and a real SQLite store: sheets, probes and the fetch policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fetch;
mod probes;
mod sheets;
mod support;
