//! `GET /api/incidents/{ticket}/deliveries`, for admins: every delivery the ledger holds for one incident (which
//! event, on which channel, who accepted it and who refused it, in how many calls), with totals per channel.
//!
//! Recipients are personal data, so this needs scope `admin` and sits with the writes in the intake router, like
//! the subscriber lists. It only reads: one timeline read (for each event's kind, and to tell an unknown ticket)
//! and one ledger read.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flare_core::timefmt::rfc3339;
use flare_core::{Delivery, DeliveryChannel, EventKind, Refused, TicketNumber};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::request::path_ticket;
use crate::state::AppState;

/// One ledger record: one batch of one event on one channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
struct DeliveryView<'a> {
    seq: u64,
    /// The kind of the event delivered; `None` only if the timeline lacks it, which a sound store never shows.
    event: Option<EventKind>,
    channel: DeliveryChannel,
    batch: u32,
    #[schema(format = DateTime)]
    at: String,
    sent: &'a [String],
    refused: &'a [Refused],
    calls: u32,
}

/// What one channel did for the incident, summed over its records.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(as = DeliveryTotals)]
struct ChannelTotals {
    sent: usize,
    refused: usize,
    batches: usize,
    calls: u64,
}

/// Every delivery of one incident's events, with totals per channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeliveryList)]
pub(crate) struct DeliveriesView<'a> {
    ticket: TicketNumber,
    deliveries: Vec<DeliveryView<'a>>,
    /// Every channel, by name, zero when it delivered nothing.
    totals: BTreeMap<&'static str, ChannelTotals>,
}

fn view<'a>(ticket: TicketNumber, deliveries: &'a [Delivery], kinds: &BTreeMap<u64, EventKind>) -> DeliveriesView<'a> {
    let mut totals: BTreeMap<&'static str, ChannelTotals> =
        DeliveryChannel::ALL.iter().map(|c| (c.as_str(), ChannelTotals::default())).collect();
    for d in deliveries {
        let t = totals.entry(d.channel.as_str()).or_default();
        t.sent += d.sent.len();
        t.refused += d.refused.len();
        t.batches += 1;
        t.calls += u64::from(d.calls);
    }
    let deliveries = deliveries
        .iter()
        .map(|d| DeliveryView {
            seq: d.seq,
            event: kinds.get(&d.seq).copied(),
            channel: d.channel,
            batch: d.batch,
            at: rfc3339(d.at),
            sent: &d.sent,
            refused: &d.refused,
            calls: d.calls,
        })
        .collect();
    DeliveriesView { ticket, deliveries, totals }
}

/// `GET /api/incidents/{ticket}/deliveries`.
#[utoipa::path(
    get,
    path = "/api/incidents/{ticket}/deliveries",
    operation_id = "listDeliveries",
    tag = "admin",
    summary = "Who was told about an incident, when and how",
    security(("bearer" = []), ("session" = [])),
    params(("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$")),
    responses(
        (status = 200, description = "Every delivery and the totals per channel", body = DeliveriesView),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 403, description = "The caller lacks scope admin, or a signed-in browser sent no CSRF token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let ticket = path_ticket(&raw)?;
    // Every incident has its opening event, so an empty timeline means no incident: one read tells both.
    let timeline = state.store().timeline(ticket).await?;
    if timeline.is_empty() {
        return Err(ApiError::NotFound(format!("no incident {ticket}")));
    }
    let kinds: BTreeMap<u64, EventKind> = timeline.iter().map(|e| (e.seq, e.kind)).collect();
    let deliveries = state.store().deliveries(ticket).await?;
    let body = view(ticket, &deliveries, &kinds);
    Ok(([(header::CACHE_CONTROL, "private, no-store")], Json(body)).into_response())
}
