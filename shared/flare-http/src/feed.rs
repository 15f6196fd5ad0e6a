//! The history feed (`GET /history.atom`): the incidents of the last 90 days as Atom entries, at most 50, the
//! most recently changed first. An entry's `updated` is its incident's, so a feed reader shows an incident again
//! when it is updated or resolved. The answer carries a strong `ETag` over its body and answers `304` to a
//! reader whose copy is current.
//!
//! Links are relative (RFC 4287 resolves them against the feed's own address), so the feed needs no configured
//! host and never echoes a request's `Host` header into its content. Entry ids are `urn:uuid:`s derived from the
//! ticket number, so they never change.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use flare_core::view::{Audience, IncidentView};
use flare_core::{Incident, Window, WindowQuery};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::incident_page::{human_duration, readable};
use crate::read_cache::{Answer, Key};
use crate::respond::conditional;
use crate::state::AppState;

/// How far back the feed reaches.
const FEED_DAYS: i64 = 90;
/// The most entries one feed holds.
const FEED_MAX: usize = 50;

/// One entry, as the template writes it.
#[derive(Debug)]
struct Entry {
    id: String,
    ticket: String,
    title: String,
    updated: String,
    published: String,
    /// One line per fact, in the order a reader wants them.
    facts: Vec<(&'static str, String)>,
    description: String,
}

#[derive(Template)]
#[template(path = "history.atom", escape = "html")]
struct Feed {
    updated: String,
    entries: Vec<Entry>,
}

/// A stable, absolute id for an incident: a name-based UUID of its ticket number.
fn entry_id(ticket: &str) -> String {
    let digest = Sha256::digest(format!("flare incident {ticket}").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!("urn:uuid:{}-{}-5{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn entry(incident: &Incident, audience: Audience) -> Entry {
    let view = IncidentView::new(incident, audience);
    let status = if incident.is_open() { format!("{} (ongoing)", view.status) } else { view.status.to_string() };
    let mut facts = vec![
        ("Status", status),
        ("Severity", format!("{} ({})", incident.severity, incident.severity.label())),
        (
            "Systems",
            incident
                .systems
                .iter()
                .map(|s| format!("{} ({})", s.system, s.impact.as_str().replace('_', " ")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("Started", readable(incident.started_at)),
    ];
    // An ongoing incident has no duration yet: one that grew by the minute would change the feed, and its
    // ETag, with the clock instead of with the incident.
    if let Some(end) = incident.resolved_at {
        facts.push(("Ended", readable(end)));
        facts.push(("Duration", human_duration((end - incident.started_at).whole_seconds())));
    }
    // The public's view has neither.
    if let Some(engineer) = view.engineer_name() {
        facts.push(("Engineer", engineer.to_owned()));
    }
    if let Some(url) = view.ticket_link() {
        facts.push(("Ticket", url.to_owned()));
    }
    Entry {
        id: entry_id(&view.ticket.to_string()),
        ticket: view.ticket.to_string(),
        title: format!("{} {}: {}", view.ticket, view.severity, view.title),
        updated: view.updated_at.clone(),
        published: view.started_at.clone(),
        facts,
        description: view.description,
    }
}

/// The feed's body: the newest-changed incidents of the last 90 days, as `audience` may see them (the public
/// never sees the engineer or the ticket link).
pub(crate) async fn body(state: &AppState, audience: Audience) -> Result<Vec<u8>, ApiError> {
    let now = state.now();
    let window = Window::new(now - Duration::days(FEED_DAYS), Window::minute_after(now)).map_err(ApiError::Invalid)?;
    let mut query = WindowQuery::new(window);
    query.limit = flare_core::limits::PAGE_MAX;
    let mut incidents = Vec::new();
    loop {
        let page = state.store().list_window(&query).await?;
        incidents.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    incidents.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.ticket.cmp(&a.ticket)));
    incidents.truncate(FEED_MAX);
    // The feed changes when an entry does, not with the clock: its `updated` is its newest entry's.
    let updated = incidents.first().map_or(now - Duration::days(FEED_DAYS), |i| i.updated_at);
    let feed = Feed {
        updated: flare_core::timefmt::rfc3339(updated),
        entries: incidents.iter().map(|i| entry(i, audience)).collect(),
    };
    Ok(feed.render()?.into_bytes())
}

/// `GET /history.atom`.
#[utoipa::path(
    get,
    path = "/history.atom",
    operation_id = "historyFeed",
    tag = "dashboard",
    summary = "The last 90 days' incidents as an Atom feed, at most 50, the most recently changed first",
    security((), ("bearer" = []), ("session" = [])),
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the reader's copy: 304 when it is current")),
    responses(
        (status = 200, description = "The feed", content_type = "application/atom+xml", body = String, headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "The reader's copy is current"),
        (status = 401, description = "Reads are private and no valid API key or session was sent", body = crate::error::ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = crate::error::ErrorBody)
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Reader(audience): Reader,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = Key { route: "feed", audience, params: String::new() };
    let answer =
        state.read_cache().get_or_make(key, || async { Answer::hashed(body(&state, audience).await?) }).await?;
    Ok(conditional(&state, &headers, answer, "application/atom+xml; charset=utf-8", audience))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_id_is_a_uuid_urn_that_depends_only_on_the_ticket() {
        let id = entry_id("INC-12");
        assert_eq!(id, entry_id("INC-12"));
        assert_ne!(id, entry_id("INC-13"));
        let uuid = id.strip_prefix("urn:uuid:").unwrap_or_default();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    }
}
