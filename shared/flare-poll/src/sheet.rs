//! One run of one sheet: fetch it (sending back the validators it gave), stop if the body is unchanged, then
//! apply each row not handled before through the incident service, as its own principal, under the row's
//! idempotency key. A bad row is recorded with its row number, field and reason, and never blocks the rows
//! after it; a store that fails stops the run, and the rows not yet handled are tried again next run.

use flare_core::poll::{
    BadRow, RowCommand, RowContext, SheetRow, SourceState, column_of_field, parse_sheet, row_command,
};
use flare_core::{Actor, DomainError, IncidentService, StoreError};
use serde::Serialize;
use tracing::{info, warn};

use crate::PollError;
use crate::config::SheetSource;
use crate::fetch::{FetchRequest, Fetcher};

/// What one sheet run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SheetReport {
    /// The body was the same as last time (or the server said 304): nothing was parsed.
    pub unchanged: bool,
    pub rows: u64,
    pub applied: u64,
    /// Rows newly recorded as bad in this run.
    pub bad: u64,
}

pub(crate) async fn run(
    service: &IncidentService,
    fetcher: &Fetcher,
    sheet: &SheetSource,
) -> Result<SheetReport, PollError> {
    let store = service.store();
    let source = sheet.source();
    let mut state = store.poll_source(&source).await?.unwrap_or_else(|| SourceState::new(&source));
    state.last_run = Some(service.clock().now());
    let outcome = apply(service, fetcher, sheet, &mut state).await;
    state.last_error = outcome.as_ref().err().map(|e| flare_core::error_chain(e));
    store.put_poll_source(&state).await?;
    outcome
}

async fn apply(
    service: &IncidentService,
    fetcher: &Fetcher,
    sheet: &SheetSource,
    state: &mut SourceState,
) -> Result<SheetReport, PollError> {
    let request = FetchRequest {
        etag: state.etag.as_deref(),
        last_modified: state.last_modified.as_deref(),
        ..FetchRequest::get(&sheet.url)
    };
    let fetched = fetcher.fetch(request).await?;
    if fetched.status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(SheetReport { unchanged: true, rows: state.rows, ..SheetReport::default() });
    }
    if !fetched.status.is_success() {
        return Err(PollError::Status(fetched.status.as_u16()));
    }
    let hash = flare_core::poll::sha256_hex(&fetched.body);
    if state.body_hash.as_deref() == Some(hash.as_str()) {
        (state.etag, state.last_modified) = (fetched.etag, fetched.last_modified);
        return Ok(SheetReport { unchanged: true, rows: state.rows, ..SheetReport::default() });
    }
    let rows = parse_sheet(&fetched.body, &sheet.format)?;
    let store = service.store();
    let catalog = store.list_systems().await?;
    let source = sheet.source();
    let ctx = RowContext { source: &source, format: &sheet.format, catalog: &catalog, impact: sheet.impact };
    let actor = Actor::system(&source);
    let mut report = SheetReport { rows: rows.len() as u64, ..SheetReport::default() };
    for row in &rows {
        let key = row.key(&source);
        if store.row_handled(&source, &key).await? {
            continue;
        }
        match apply_row(service, &actor, row, &key, &ctx).await? {
            None => {
                store.mark_row(&source, &key, None).await?;
                report.applied += 1;
            }
            Some((field, reason)) => {
                let at = service.clock().now();
                let bad = BadRow { source: source.clone(), row: row.number, key: key.clone(), field, reason, at };
                warn!(source = %source, row = bad.row, field = %bad.field, reason = %bad.reason, "bad sheet row");
                store.mark_row(&source, &key, Some(&bad)).await?;
                report.bad += 1;
            }
        }
    }
    // Only now, validators included: a run that stopped half-way must fetch and read the same body again, not
    // be told 304 by a server that honours them.
    state.body_hash = Some(hash);
    (state.etag, state.last_modified) = (fetched.etag, fetched.last_modified);
    state.rows = report.rows;
    info!(source = %source, rows = report.rows, applied = report.applied, bad = report.bad, "polled sheet");
    Ok(report)
}

/// Applies one row. `Ok(None)` when it was applied (or had been, under the same key); `Ok(Some((field,
/// reason)))` when it is bad; `Err` only when the store failed, so the row is tried again.
async fn apply_row(
    service: &IncidentService,
    actor: &Actor,
    row: &SheetRow,
    key: &str,
    ctx: &RowContext<'_>,
) -> Result<Option<(String, String)>, StoreError> {
    let command = match row_command(row, key, ctx) {
        Ok(c) => c,
        Err(e) => return Ok(Some((e.field, e.reason))),
    };
    let result = match command {
        RowCommand::Open(open) => service.open(*open, actor, Some(key)).await,
        RowCommand::Change(change) => service.execute(change, actor, Some(key)).await,
    };
    Ok(match result {
        Ok(_) => None,
        // The incident from this row exists: an earlier run opened it and stopped before marking the row.
        Err(DomainError::AlreadyExists { .. }) => None,
        Err(DomainError::Invalid(errors)) => {
            let first = errors.iter().next().map(|e| (column_of_field(&e.field).to_string(), e.reason.clone()));
            Some(first.unwrap_or_else(|| ("row".into(), "is not valid".into())))
        }
        Err(DomainError::NotFound(ticket)) => {
            Some(("Ticket number".into(), format!("names {ticket}, which does not exist")))
        }
        Err(e @ DomainError::InvalidTransition { .. }) => Some(("Action".into(), e.to_string())),
        Err(e @ DomainError::NoChange) => Some(("row".into(), e.to_string())),
        Err(e @ (DomainError::Conflict { .. } | DomainError::IdempotencyMismatch)) => {
            Some(("row".into(), e.to_string()))
        }
        Err(DomainError::Store(e)) => return Err(e),
    })
}
