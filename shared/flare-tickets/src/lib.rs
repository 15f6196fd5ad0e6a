//! Flare's ticketing adapters: each implements [`flare_core::TicketSystem`] for one vendor, over `reqwest`.
//!
//! - `servicenow` — Table API, `incident` table, our number in `correlation_id`.
//! - `jira` — Jira Cloud REST v3, ADF text, workflow transitions, label `flare-INC-1042`.
//! - `github` — GitHub Issues REST, escaped Markdown, label `flare:INC-1042`.
//! - `webhook` — a signed JSON POST for anything else; the receiver deduplicates.
//!
//! All four send through `retry`, the one place that times out, retries with backoff and maps
//! HTTP statuses to [`flare_core::TicketError`]; what they write comes from `render`. The only
//! public surface is configuration: [`from_env`] gives the configured adapter, or `None`. Driving it from
//! timeline events is [`flare_core::sync_ticket`].

mod config;
mod env;
mod github;
mod jira;
mod render;
mod retry;
mod servicenow;
mod webhook;

pub use config::{SecretString, SetupError, TicketsConfig, from_env};
pub use github::GitHubConfig;
pub use jira::{JiraConfig, Transition};
pub use retry::RetryPolicy;
pub use servicenow::{ServiceNowAuth, ServiceNowConfig};
pub use webhook::WebhookConfig;
