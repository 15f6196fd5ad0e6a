//! The read-only JSON API the dashboard draws: incidents overlapping a window, one incident with its timeline,
//! the systems catalog, and the health check.
//!
//! Answers carry a strong `ETag` and `Cache-Control: no-cache`, so clients revalidate every time and a
//! repeat costs a 304 without a body. Lists hash their body; an incident's ETag is its version, which is what
//! `If-Match` takes on updates.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use flare_core::timefmt::{parse_rfc3339, rfc3339};
use flare_core::view::{IncidentDetailView, IncidentView, SystemView};
use flare_core::{Cursor, FieldError, Severity, Status, SystemId, ValidationErrors, Window, WindowQuery, limits};
use serde::Serialize;
use serde_json::json;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::auth::Reader;
use crate::error::ApiError;
use crate::request::path_ticket;
use crate::respond::cached_json;
use crate::state::AppState;

#[derive(Serialize)]
struct ListView {
    from: String,
    to: String,
    incidents: Vec<IncidentView>,
    next: Option<String>,
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(ApiError::internal)
}

/// A window bound: RFC 3339, or a date meaning midnight UTC.
fn parse_bound(errors: &mut ValidationErrors, field: &str, raw: &str) -> Option<OffsetDateTime> {
    let parsed = parse_rfc3339(field, raw).ok().or_else(|| {
        Date::parse(raw.trim(), format_description!("[year]-[month]-[day]")).ok().map(|d| d.midnight().assume_utc())
    });
    match parsed {
        Some(t) if BOUND_YEARS.contains(&t.year()) => Some(t),
        Some(_) => {
            errors.push(field, format!("must lie between the years {} and {}", BOUND_YEARS.start(), BOUND_YEARS.end()));
            None
        }
        None => {
            errors.push(field, "must be an RFC 3339 time like 2026-11-22T09:30:00Z or a date like 2026-11-22");
            None
        }
    }
}

/// Years a window bound may name: far enough to cover any real incident, near enough that a default span added
/// to or taken from it cannot leave the representable range.
const BOUND_YEARS: std::ops::RangeInclusive<i32> = 1970..=9000;

/// The dashboard query from the URL: every parameter optional, unknown or repeated ones refused.
fn window_query(raw: Option<&str>, now: OffsetDateTime) -> Result<WindowQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| ApiError::malformed("query", format!("is not a valid query string: {e}")))?;
    let mut errors = ValidationErrors::new();
    let mut seen: Vec<&str> = Vec::new();
    let (mut from, mut to, mut status, mut severity, mut system, mut limit, mut cursor) =
        (None, None, None, None, None, None, None);
    for (name, value) in &pairs {
        if seen.contains(&name.as_str()) {
            errors.push(name.clone(), "is given more than once");
            continue;
        }
        seen.push(name);
        match name.as_str() {
            "from" => from = parse_bound(&mut errors, "from", value),
            "to" => to = parse_bound(&mut errors, "to", value),
            "status" => status = errors.check(Status::parse("status", value)),
            "severity" => severity = errors.check(Severity::parse("severity", value)),
            "system" => system = errors.check(SystemId::parse("system", value)),
            "limit" => {
                limit = match value.trim().parse::<usize>() {
                    Ok(n) if (1..=limits::PAGE_MAX).contains(&n) => Some(n),
                    _ => {
                        errors.push("limit", format!("must be a whole number from 1 to {}", limits::PAGE_MAX));
                        None
                    }
                }
            }
            "cursor" => cursor = errors.check(Cursor::decode("cursor", value)),
            other => errors.push(
                other.to_string(),
                "is not a parameter of this endpoint (from, to, status, severity, system, limit, cursor)",
            ),
        }
    }
    let bad = |errors: ValidationErrors| ApiError::Malformed {
        message: format!(
            "invalid query: {}",
            errors.0.iter().map(FieldError::to_string).collect::<Vec<_>>().join("; ")
        ),
        fields: errors.0,
    };
    errors.finish().map_err(bad)?;
    let default_span = Duration::days(limits::WINDOW_DEFAULT_DAYS);
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, if f < now { now } else { f + default_span }),
        (None, Some(t)) => (t - default_span, t),
        (None, None) => {
            let w = Window::default_ending(now);
            (w.from(), w.to())
        }
    };
    let window = Window::new(from, to).map_err(bad)?;
    let mut query = WindowQuery::new(window);
    query.status = status;
    query.severity = severity;
    query.system = system;
    query.limit = limit.unwrap_or(limits::PAGE_DEFAULT);
    query.cursor = cursor;
    Ok(query)
}

/// `GET /api/incidents?from&to&status&severity&system&limit&cursor`.
pub(crate) async fn list(
    State(state): State<AppState>,
    _: Reader,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = window_query(raw.as_deref(), state.now())?;
    let page = state.store().list_window(&query).await?;
    let view = ListView {
        from: rfc3339(query.window.from()),
        to: rfc3339(query.window.to()),
        incidents: page.items.iter().map(IncidentView::from).collect(),
        next: page.next.map(|c| c.encode()),
    };
    cached_json(&state, &headers, to_json(&view)?, None)
}

/// `GET /api/incidents/{ticket}`, with its timeline.
pub(crate) async fn detail(
    State(state): State<AppState>,
    _: Reader,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ticket = path_ticket(&ticket)?;
    let incident =
        state.store().get(ticket).await?.ok_or_else(|| ApiError::NotFound(format!("no incident {ticket}")))?;
    let timeline = state.store().timeline(ticket).await?;
    let view = IncidentDetailView::new(&incident, &timeline);
    let body = to_json(&view)?;
    cached_json(&state, &headers, body, Some(format!("\"{}\"", incident.version)))
}

/// `GET /api/systems`: the catalog, without owners' contact details.
pub(crate) async fn systems(
    State(state): State<AppState>,
    _: Reader,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let systems = state.store().list_systems().await?;
    let list: Vec<SystemView> = systems.iter().map(SystemView::from).collect();
    cached_json(&state, &headers, to_json(&json!({ "systems": list }))?, None)
}

/// `GET /healthz`: the process answers. It checks nothing else, so it reveals nothing.
pub(crate) async fn healthz() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Json(json!({ "status": "ok" })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    #[test]
    fn only_from_given_runs_the_window_to_now() {
        let q = window_query(Some("from=2026-11-20"), NOW).unwrap();
        assert_eq!(q.window.from(), datetime!(2026-11-20 00:00 UTC));
        assert_eq!(q.window.to(), NOW);
    }

    #[test]
    fn only_to_given_runs_the_window_a_week_back() {
        let q = window_query(Some("to=2026-11-10T00:00:00Z"), NOW).unwrap();
        assert_eq!(q.window.from(), datetime!(2026-11-03 00:00 UTC));
    }
}
