//! The HTTP layer, driven through the router as a client would, against a real SQLite store.
//!
//! One test binary: `support` holds the fixtures; each module covers one area.

// Fixtures outside `#[test]` functions panic on setup failure too; that is what a test wants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod auth;
mod bad_input;
mod dashboard;
mod deliveries;
mod follow_ups;
mod form;
mod intake_api;
mod notify_emails;
mod openapi;
mod poll;
mod public;
mod status_page;
mod systems;
mod unsubscribe;
