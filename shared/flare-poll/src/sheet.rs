//! One run of one sheet: fetch it (sending back the validators it gave), stop if the body is unchanged, then
//! apply each row not handled before through the incident service, as its own principal, under the row's
//! idempotency key. A bad row is recorded with its row number, field and reason, and never blocks the rows
//! after it; a store that fails stops the run, and the rows not yet handled are tried again next run. The
//! rows a run newly records as bad go to the help desk in one mail, when it is configured: each row is mailed
//! by the run that records it, and no later run, so at most once (a mail that fails is logged; the rows stay
//! in `flare poll status` and the API).

use flare_core::notify::Mail;
use flare_core::poll::{
    BadRow, RowCommand, RowContext, SheetRow, SourceState, column_of_field, parse_sheet, render_bad_rows, row_command,
};
use flare_core::{Actor, DomainError, IncidentService, StoreError, error_chain};
use serde::Serialize;
use tracing::{info, warn};

use crate::config::SheetSource;
use crate::fetch::{FetchRequest, Fetcher};
use crate::{BadRowMail, PollError};

/// What one sheet run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SheetReport {
    /// The body was the same as last time (or the server said 304): nothing was parsed.
    pub unchanged: bool,
    pub rows: u64,
    pub applied: u64,
    /// Rows newly recorded as bad in this run.
    pub bad: u64,
    /// This run's bad rows were mailed to the help desk.
    pub bad_rows_mailed: bool,
}

pub(crate) async fn run(
    service: &IncidentService,
    fetcher: &Fetcher,
    sheet: &SheetSource,
    mail: Option<&BadRowMail>,
) -> Result<SheetReport, PollError> {
    let store = service.store();
    let source = sheet.source();
    let mut state = store.poll_source(&source).await?.unwrap_or_else(|| SourceState::new(&source));
    state.last_run = Some(service.clock().now());
    let mut bad_rows = Vec::new();
    let outcome = apply(service, fetcher, sheet, &mut state, &mut bad_rows).await;
    state.last_error = outcome.as_ref().err().map(|e| flare_core::error_chain(e));
    store.put_poll_source(&state).await?;
    // Also when the run stopped half-way: the rows it recorded as bad are never recorded, nor mailed, again.
    let mailed = match mail {
        Some(mail) if !bad_rows.is_empty() => mail_bad_rows(mail, &source, &bad_rows).await,
        _ => false,
    };
    outcome.map(|report| SheetReport { bad_rows_mailed: mailed, ..report })
}

/// Mails `rows` to the help desk; whether it went.
async fn mail_bad_rows(mail: &BadRowMail, source: &str, rows: &[BadRow]) -> bool {
    let sent = match render_bad_rows(source, rows) {
        Ok(rendered) => {
            let message = Mail {
                to: mail.to.clone(),
                subject: rendered.subject,
                html: rendered.html,
                text: rendered.text,
                inline: vec![],
            };
            mail.mailer.send_one(&message).await.map_err(|e| error_chain(&e))
        }
        Err(e) => Err(error_chain(&e)),
    };
    match sent {
        Ok(()) => true,
        Err(chain) => {
            warn!(
                source,
                rows = rows.len(),
                error.cause_chain = chain,
                "the bad rows could not be mailed to the help desk"
            );
            false
        }
    }
}

async fn apply(
    service: &IncidentService,
    fetcher: &Fetcher,
    sheet: &SheetSource,
    state: &mut SourceState,
    bad_rows: &mut Vec<BadRow>,
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
                bad_rows.push(bad);
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
