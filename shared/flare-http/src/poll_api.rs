//! The poller's read API: each source's last run and cursor, a sheet's bad rows (row, field, reason), and a
//! probe's latest checks, so a failing check shows before it has opened anything. They
//! need a key or a sign-in even when reads are public ([`StaffReader`]): bad rows quote what people typed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flare_core::TicketNumber;
use flare_core::poll::{BadRow, ProbeCheck, SourceState};
use flare_core::timefmt::rfc3339;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::StaffReader;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// How many checks one read returns: the last hour at one check a minute, with room.
const CHECKS_READ: usize = 100;

/// A source as its last run left it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PollSource)]
struct SourceView {
    /// `sheet:<name>` or `probe:<system>`.
    source: String,
    #[schema(format = DateTime)]
    last_run: Option<String>,
    /// Why the last run failed as a whole, if it did.
    last_error: Option<String>,
    /// Sheets: how many data rows the last body read held.
    rows: u64,
    /// Probes: consecutive failures and successes now, and the incident the probe has open.
    failures: Option<u32>,
    successes: Option<u32>,
    open_incident: Option<TicketNumber>,
}

impl From<SourceState> for SourceView {
    fn from(s: SourceState) -> Self {
        Self {
            last_run: s.last_run.map(rfc3339),
            last_error: s.last_error,
            rows: s.rows,
            failures: s.probe.as_ref().map(|p| p.failures),
            successes: s.probe.as_ref().map(|p| p.successes),
            open_incident: s.probe.as_ref().and_then(|p| p.open),
            source: s.source,
        }
    }
}

/// Every source that has run.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PollSourceList)]
struct SourcesView {
    sources: Vec<SourceView>,
}

/// A sheet's bad rows, by row number.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BadRowList)]
struct BadRowsView {
    source: String,
    bad_rows: Vec<BadRow>,
}

/// A probe's latest checks, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ProbeCheckList)]
struct ChecksView {
    source: String,
    checks: Vec<ProbeCheck>,
}

fn fresh(body: impl Serialize) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response()
}

/// The source a path names, when it has run; 404 otherwise.
async fn known(state: &AppState, source: &str) -> Result<SourceState, ApiError> {
    state.store().poll_source(source).await?.ok_or_else(|| ApiError::NotFound(format!("no poll source {source}")))
}

/// `GET /api/poll/sources`.
#[utoipa::path(
    get,
    path = "/api/poll/sources",
    operation_id = "listPollSources",
    tag = "dashboard",
    summary = "Every poll source's last run and cursor",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Every sheet and probe that has run, by name", body = SourcesView),
        (status = 401, description = "No valid API key or session was sent (these reads need one even when reads are public)", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn sources(State(state): State<AppState>, _: StaffReader) -> Result<Response, ApiError> {
    let sources = state.store().poll_sources().await?.into_iter().map(SourceView::from).collect();
    Ok(fresh(SourcesView { sources }))
}

/// `GET /api/poll/sources/{source}/bad-rows`.
#[utoipa::path(
    get,
    path = "/api/poll/sources/{source}/bad-rows",
    operation_id = "listBadRows",
    tag = "dashboard",
    summary = "A sheet's bad rows: row number, field and reason",
    security(("bearer" = []), ("session" = [])),
    params(("source" = String, Path, description = "The source, like sheet:helpdesk")),
    responses(
        (status = 200, description = "The bad rows, by row number", body = BadRowsView),
        (status = 401, description = "No valid API key or session was sent (these reads need one even when reads are public)", body = ErrorBody),
        (status = 404, description = "No such source has run", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn bad_rows(
    State(state): State<AppState>,
    _: StaffReader,
    Path(source): Path<String>,
) -> Result<Response, ApiError> {
    let source = known(&state, &source).await?.source;
    let bad_rows = state.store().bad_rows(&source).await?;
    Ok(fresh(BadRowsView { source, bad_rows }))
}

/// `GET /api/poll/sources/{source}/checks`.
#[utoipa::path(
    get,
    path = "/api/poll/sources/{source}/checks",
    operation_id = "listProbeChecks",
    tag = "dashboard",
    summary = "A probe's latest checks, newest first",
    security(("bearer" = []), ("session" = [])),
    params(("source" = String, Path, description = "The probe, like probe:vpn")),
    responses(
        (status = 200, description = "Up to 100 checks, newest first", body = ChecksView),
        (status = 401, description = "No valid API key or session was sent (these reads need one even when reads are public)", body = ErrorBody),
        (status = 404, description = "No such source has run", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn checks(
    State(state): State<AppState>,
    _: StaffReader,
    Path(source): Path<String>,
) -> Result<Response, ApiError> {
    let source = known(&state, &source).await?.source;
    let checks = state.store().checks(&source, CHECKS_READ).await?;
    Ok(fresh(ChecksView { source, checks }))
}
