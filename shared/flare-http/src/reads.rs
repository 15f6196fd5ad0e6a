//! Reads that more than one answer makes: every page of a window, and the recent span that the status page's
//! strips and `GET /api/availability` are drawn from. Both read the store only through the window query, whose
//! cost is in proportion to what it returns (on DynamoDB, one Query per day bucket), never to the table's size.

use flare_core::availability::{self, CurrentStatus, SystemAvailability};
use flare_core::{Incident, System, SystemId, Window, WindowQuery};
use time::{Duration, OffsetDateTime, Time};

use crate::error::ApiError;
use crate::state::AppState;

/// Every incident the query matches, page by page, up to `max`; `true` when there were more.
pub(crate) async fn read_all(
    state: &AppState,
    mut query: WindowQuery,
    max: usize,
) -> Result<(Vec<Incident>, bool), ApiError> {
    let mut all = Vec::new();
    query.limit = flare_core::limits::PAGE_MAX;
    loop {
        let page = state.store().list_window(&query).await?;
        all.extend(page.items);
        match page.next {
            Some(next) if all.len() < max => query.cursor = Some(next),
            Some(_) => return Ok((all, true)),
            None => return Ok((all, false)),
        }
    }
}

/// The catalog and what the last `days` UTC days say of each system: its status now and its availability.
#[derive(Debug)]
pub(crate) struct Recent {
    pub(crate) catalog: Vec<System>,
    /// In catalog order.
    pub(crate) status: Vec<CurrentStatus>,
    /// In catalog order.
    pub(crate) strips: Vec<SystemAvailability>,
}

/// The last `days` UTC days up to `now`: one window read gives the strips and the current status alike, since
/// every incident still open overlaps a window that ends now.
pub(crate) async fn recent(state: &AppState, days: u16, now: OffsetDateTime) -> Result<Recent, ApiError> {
    let catalog = state.store().list_systems().await?;
    let ids: Vec<SystemId> = catalog.iter().map(|s| s.id.clone()).collect();
    let first = now.date() - Duration::days(i64::from(days.max(1)) - 1);
    let window = Window::new(first.with_time(Time::MIDNIGHT).assume_utc(), Window::minute_after(now))
        .map_err(ApiError::Invalid)?;
    let (incidents, _) = read_all(state, WindowQuery::new(window), usize::MAX).await?;
    let by_id = availability::current_status(&ids, &incidents);
    let status = ids.iter().map(|id| by_id.get(id).copied().unwrap_or(CurrentStatus::Operational)).collect();
    let strips = availability::availability(&ids, &incidents, days, now);
    Ok(Recent { catalog, status, strips })
}

/// `now` on the whole minute before it. Answers that count time up to now (availability, "so far") use it, so
/// they, and their ETags, change once a minute rather than with every request while an incident is open.
pub(crate) fn this_minute(now: OffsetDateTime) -> OffsetDateTime {
    Window::minute_after(now) - Duration::minutes(1)
}
