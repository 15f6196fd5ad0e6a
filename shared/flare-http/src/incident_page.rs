//! The incident page: one incident and its timeline in HTML, where the form sends the agent after a change.
//! Reads follow the same rule as the JSON API; a browser that may not read is sent to sign in.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use flare_core::view::{Audience, EventView, IncidentView};
use flare_core::{EventKind, TimelineEvent};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::auth;
use crate::error::ApiError;
use crate::pages::{self, Nav, PageError};
use crate::request;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    nav: Nav,
    /// Whether the reader is the public, who sees no internal field and no way to change the incident.
    public: bool,
    done: Option<&'static str>,
    i: IncidentView,
    severity_label: &'static str,
    duration: Option<String>,
    ticket_url: Option<String>,
    /// Each affected system by its catalog name, with its impact in words: "Remote access VPN — partial outage".
    systems: Vec<String>,
    started: String,
    ended: Option<String>,
    timeline: Vec<EventRow>,
}

/// One timeline event as the page shows it.
#[derive(Debug)]
struct EventRow {
    at: String,
    at_iso: String,
    who: String,
    kind: &'static str,
    message: Option<String>,
    /// The fields a change touched; empty for the opening event, which sets them all.
    changed: Vec<String>,
}

impl EventRow {
    /// The event as `audience` sees it, or `None` when it is not theirs to see (see [`EventView::new`]).
    fn new(e: &TimelineEvent, audience: Audience) -> Option<Self> {
        let view = EventView::new(e, audience)?;
        let changed =
            if e.kind == EventKind::Opened { Vec::new() } else { view.changes.into_iter().map(|c| c.field).collect() };
        Some(Self {
            at: readable(e.at),
            at_iso: view.at,
            who: view.actor.name,
            kind: e.kind.label(),
            message: view.message,
            changed,
        })
    }
}

/// `2026-11-22 09:30 UTC`.
pub(crate) fn readable(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).unwrap_or_else(|_| t.to_string())
}

/// `3h 05m`, `12m`, `40s`.
pub(crate) fn human_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m"),
        _ => format!("{h}h {m:02}m"),
    }
}

/// `GET /incidents/{ticket}`, with `?done=opened|updated|resolved` after a form post.
#[utoipa::path(
    get,
    path = "/incidents/{ticket}",
    operation_id = "incidentPage",
    tag = "pages",
    summary = "An incident's page",
    security((), ("bearer" = []), ("session" = [])),
    params(("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$"), ("done" = Option<String>, Query, description = "What the form just did: opened, updated or resolved")),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 303, description = "Reads are private: sign in first", headers(("Location" = String, description = "Where to go"))),
        (status = 401, description = "An API key was sent but is not valid", content_type = "text/html", body = String),
        (status = 404, description = "No such incident", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let session = auth::session_user(&state, &headers).await?;
    let audience = match auth::reader(&state, &headers).await {
        Ok(audience) => audience,
        Err(ApiError::Unauthenticated(_)) if !headers.contains_key(axum::http::header::AUTHORIZATION) => {
            return Err(PageError::SignIn { next: format!("/incidents/{}", request::path_ticket(&ticket)?) });
        }
        Err(other) => return Err(other.into()),
    };
    let ticket = request::path_ticket(&ticket)?;
    let incident =
        state.store().get(ticket).await?.ok_or_else(|| ApiError::NotFound(format!("no incident {ticket}")))?;
    let timeline = state.store().timeline(ticket).await?;
    let done = match query.as_deref() {
        Some("done=opened") => Some("was opened"),
        Some("done=updated") => Some("was updated"),
        Some("done=resolved") => Some("was closed"),
        _ => None,
    };
    let catalog = state.store().list_systems().await?;
    let systems = incident
        .systems
        .iter()
        .map(|a| {
            let name =
                catalog.iter().find(|s| s.id == a.system).map_or_else(|| a.system.to_string(), |s| s.name.to_string());
            format!("{name} — {}", a.impact.label())
        })
        .collect();
    let i = IncidentView::new(&incident, audience);
    // Only web links become links: a `javascript:` URL is not a ticket.
    let ticket_url = i.ticket_link().map(str::to_owned);
    let page = IncidentPage {
        nav: session.map(|(s, u)| Nav::signed_in(&state, &s, &u)).unwrap_or_else(Nav::anonymous),
        public: audience.is_public(),
        done,
        severity_label: incident.severity.label(),
        duration: i.duration.map(human_duration),
        ticket_url,
        systems,
        started: readable(incident.started_at),
        ended: incident.resolved_at.map(readable),
        timeline: timeline.iter().filter_map(|e| EventRow::new(e, audience)).collect(),
        i,
    };
    Ok(pages::html(StatusCode::OK, &page)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(human_duration(40), "40s");
        assert_eq!(human_duration(12 * 60 + 5), "12m");
        assert_eq!(human_duration(3 * 3600 + 5 * 60), "3h 05m");
    }
}
