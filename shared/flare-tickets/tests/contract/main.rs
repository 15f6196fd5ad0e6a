//! Contract tests of the ticketing adapters: each speaks to a local wiremock server that answers in the vendor's
//! documented request and response shapes, including 401, 429 with Retry-After, 5xx and timeouts.
//!
//! Retry settings are small (3 attempts, 300 ms timeout, 10 ms backoff) so the whole binary runs in seconds.

// Fixtures outside #[test] functions may unwrap: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod github;
mod jira;
mod retries;
mod secrets;
mod servicenow;
mod support;
mod webhook;
