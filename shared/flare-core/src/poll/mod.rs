//! The poller's pure half: what a polled source says and what Flare does about it, with no network and no
//! store. The fetching and the runs live in `flare-poll`; the state a run keeps between runs is the
//! [`PollStore`] port here.
//!
//! - `sheet`: a form-responses sheet exported as CSV, its column mapping with aliases, and its local
//!   timestamps read in a named time zone.
//! - `row`: one sheet row turned into the same commands the form sends, or a bad row naming its field.
//! - `probe`: a health probe's thresholds, and the state machine that opens one incident after enough
//!   consecutive failures and resolves it after enough consecutive successes.
//! - `mail`: the mail that tells the help desk about a run's bad rows.
//! - this file: the per-source state, bad rows and check results the store keeps.

mod mail;
mod probe;
mod row;
mod sheet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::timefmt::serde_rfc3339;

pub use mail::render_bad_rows;
pub use probe::{CheckOutcome, ProbeDecision, ProbeSpec, ProbeState, Thresholds};
pub use row::{Action, BadRowReason, RowCommand, RowContext, column_of_field, row_command};
pub use sheet::{Column, SheetError, SheetFormat, SheetRow, match_options, parse_sheet};

/// How many check results the store keeps per probe: enough to see the last hours at a one-minute interval.
pub const CHECKS_KEPT: u64 = 200;

/// What a source's last run left behind, so the next run can skip what it already did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// `sheet:<name>` or `probe:<system>`: also the principal its changes are recorded under.
    pub source: String,
    #[serde(with = "serde_rfc3339::option", default)]
    pub last_run: Option<OffsetDateTime>,
    /// Why the last run failed as a whole (the sheet could not be fetched or read), if it did.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Validators the server gave with the last body, sent back so it may answer 304.
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
    /// The SHA-256 of the last body read in full: an unchanged sheet is not parsed again.
    #[serde(default)]
    pub body_hash: Option<String>,
    /// How many data rows the last body held (the cursor `flare poll status` shows).
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub probe: Option<ProbeState>,
}

impl SourceState {
    pub fn new(source: impl Into<String>) -> Self {
        Self { source: source.into(), ..Self::default() }
    }
}

/// A row that could not be applied: where it is, which field is wrong and why. Recorded once per row and
/// never retried: fixing the row in the sheet changes its content, so it becomes a new row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BadRow {
    pub source: String,
    /// The sheet's row number, the header being row 1, as the help desk sees it in the sheet.
    pub row: u64,
    /// The row's idempotency key.
    pub key: String,
    /// The column as the sheet names it, or `action`/`row` for what concerns the row as a whole.
    pub field: String,
    pub reason: String,
    #[serde(with = "serde_rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
}

/// One health check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeCheck {
    /// `probe:<system>`.
    pub source: String,
    /// Counts the probe's checks from 1; the store keeps the last [`CHECKS_KEPT`].
    pub seq: u64,
    #[serde(with = "serde_rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    pub ok: bool,
    /// The HTTP status, when the target answered.
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// Why the check failed, in words.
    pub reason: Option<String>,
}

/// The poller's state: one record per source, the rows handled, and the probes' recent checks.
#[async_trait]
pub trait PollStore: Send + Sync {
    /// Every source that has run, by name.
    async fn poll_sources(&self) -> Result<Vec<SourceState>, StoreError>;
    async fn poll_source(&self, source: &str) -> Result<Option<SourceState>, StoreError>;
    /// Creates or replaces a source's state.
    async fn put_poll_source(&self, state: &SourceState) -> Result<(), StoreError>;
    /// Whether the row with this key was handled (applied or recorded as bad) before.
    async fn row_handled(&self, source: &str, key: &str) -> Result<bool, StoreError>;
    /// Marks a row handled, with its bad-row record if it was bad. Doing it twice keeps the first.
    async fn mark_row(&self, source: &str, key: &str, bad: Option<&BadRow>) -> Result<(), StoreError>;
    /// A source's bad rows, by row number.
    async fn bad_rows(&self, source: &str) -> Result<Vec<BadRow>, StoreError>;
    /// Records a check; only the last [`CHECKS_KEPT`] of a probe are kept.
    async fn record_check(&self, check: &ProbeCheck) -> Result<(), StoreError>;
    /// A probe's most recent checks, newest first, at most `limit` (and at most [`CHECKS_KEPT`]).
    async fn checks(&self, source: &str, limit: usize) -> Result<Vec<ProbeCheck>, StoreError>;
}

/// SHA-256 in hex, for bodies and row keys.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
