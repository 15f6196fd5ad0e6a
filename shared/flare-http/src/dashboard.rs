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
use flare_core::view::{Audience, IncidentDetailView, IncidentView, SystemView};
use flare_core::{Cursor, Severity, Status, SystemId, ValidationErrors, Window, WindowQuery, limits};
use serde::Serialize;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Reader;
use crate::error::{ApiError, ErrorBody};
use crate::read_cache::{Answer, Key};
use crate::request::{bad_query, path_ticket, query_pairs};
use crate::respond::{cached_json, conditional};
use crate::state::AppState;

/// One page of the incidents overlapping a window, newest start first.
#[derive(Serialize, ToSchema)]
#[schema(as = IncidentList)]
pub(crate) struct ListView {
    /// The window's start, inclusive.
    #[schema(format = DateTime)]
    from: String,
    /// The window's end, exclusive.
    #[schema(format = DateTime)]
    to: String,
    incidents: Vec<IncidentView>,
    /// The `cursor` of the next page; `null` on the last one.
    next: Option<String>,
}

/// The systems catalog.
#[derive(Serialize, ToSchema)]
#[schema(as = SystemList)]
pub(crate) struct SystemListView {
    systems: Vec<SystemView>,
}

/// The health check's answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`: the process answers.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// The dashboard window's query. Every parameter is optional: without `from` and `to` the window is the last
/// 7 days, with one of them it runs 7 days from it (or to now). Each may appear once; others are refused.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes the query that window_query reads, for the document")]
pub(crate) struct WindowParams {
    /// The window's start: an RFC 3339 time or a date (midnight UTC), from the year 1970. (The pattern leaves out
    /// 29 February, which the server takes in leap years.)
    #[param(
        pattern = "^(19[7-9][0-9]|[2-8][0-9]{3})-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    from: Option<String>,
    /// The window's end (exclusive), as `from`. The window is at most 366 days and `from` is before `to`.
    #[param(
        pattern = "^(19[7-9][0-9]|[2-8][0-9]{3})-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    to: Option<String>,
    /// Only incidents in this status.
    #[param(value_type = Option<flare_core::Status>)]
    status: Option<String>,
    /// Only incidents of this severity.
    #[param(value_type = Option<flare_core::Severity>)]
    severity: Option<String>,
    /// Only incidents affecting this system.
    #[param(pattern = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")]
    system: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next` of the previous page, as given.
    #[param(min_length = 1)]
    cursor: Option<String>,
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
    let mut errors = ValidationErrors::new();
    let (mut from, mut to, mut status, mut severity, mut system, mut limit, mut cursor) =
        (None, None, None, None, None, None, None);
    let known = ["from", "to", "status", "severity", "system", "limit", "cursor"];
    query_pairs(raw, &known, &mut errors, |name, value, errors| {
        match name {
            "from" => from = parse_bound(errors, "from", value),
            "to" => to = parse_bound(errors, "to", value),
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
            // Which cursors were handed out is no syntax a client can check, so a refused one is a 422 below.
            _ => cursor = Some(value.to_owned()),
        }
    })?;
    errors.finish().map_err(bad_query)?;
    // The query is read; what is left are values that are well formed but refused: 422, like a body's.
    let mut refused = ValidationErrors::new();
    let cursor = cursor.and_then(|c| refused.check(Cursor::decode("cursor", &c)));
    refused.finish().map_err(ApiError::Invalid)?;
    let default_span = Duration::days(limits::WINDOW_DEFAULT_DAYS);
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, if f < now { Window::minute_after(now) } else { f + default_span }),
        (None, Some(t)) => (t - default_span, t),
        (None, None) => {
            let w = Window::default_ending(now);
            (w.from(), w.to())
        }
    };
    let window = Window::new(from, to).map_err(ApiError::Invalid)?;
    let mut query = WindowQuery::new(window);
    query.status = status;
    query.severity = severity;
    query.system = system;
    query.limit = limit.unwrap_or(limits::PAGE_DEFAULT);
    query.cursor = cursor;
    Ok(query)
}

/// `GET /api/incidents?from&to&status&severity&system&limit&cursor`.
#[utoipa::path(
    get,
    path = "/api/incidents",
    operation_id = "listIncidents",
    tag = "dashboard",
    summary = "Incidents overlapping a window",
    security((), ("bearer" = []), ("session" = [])),
    params(WindowParams, ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the client's copy: 304 when it is current")),
    responses(
        (status = 200, description = "One page of the window", body = ListView, headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "`no-cache`: revalidate every time"))),
        (status = 304, description = "The client's copy is current"),
        (status = 400, description = "A parameter cannot be read, is repeated or is unknown", body = ErrorBody),
        (status = 422, description = "The window is empty or longer than 366 days, or the cursor was not handed out by this server", body = ErrorBody),
        (status = 401, description = "Reads are private and no valid API key or session was sent", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Reader(audience): Reader,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = window_query(raw.as_deref(), state.now())?;
    let key = Key { route: "list", audience, params: query_key(&query) };
    let answer = state
        .read_cache()
        .get_or_make(key, || async {
            let page = state.store().list_window(&query).await?;
            let view = ListView {
                from: rfc3339(query.window.from()),
                to: rfc3339(query.window.to()),
                incidents: page.items.iter().map(|i| IncidentView::new(i, audience)).collect(),
                next: page.next.map(|c| c.encode()),
            };
            Answer::hashed(to_json(&view)?)
        })
        .await?;
    Ok(conditional(&state, &headers, answer, "application/json", audience))
}

/// What names a window query's answer: every parameter as resolved, so equal queries share one.
fn query_key(q: &WindowQuery) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        q.window.from().unix_timestamp_nanos(),
        q.window.to().unix_timestamp_nanos(),
        q.status.map(|s| s.as_str()).unwrap_or_default(),
        q.severity.map(|s| s.as_str()).unwrap_or_default(),
        q.system.as_ref().map(|s| s.as_str()).unwrap_or_default(),
        q.limit,
        q.cursor.as_ref().map(Cursor::encode).unwrap_or_default(),
    )
}

/// `GET /api/incidents/{ticket}`, with its timeline.
#[utoipa::path(
    get,
    path = "/api/incidents/{ticket}",
    operation_id = "getIncident",
    tag = "dashboard",
    summary = "One incident with its timeline",
    security((), ("bearer" = []), ("session" = [])),
    params(("ticket" = String, Path, description = "The ticket number, like INC-1042", pattern = "^INC-[1-9][0-9]{0,17}$"), ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the client's copy: 304 when it is current")),
    responses(
        (status = 200, description = "The incident; its ETag is its version", body = IncidentDetailView, headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "`no-cache`: revalidate every time"))),
        (status = 304, description = "The client's copy is current"),
        (status = 401, description = "Reads are private and no valid API key or session was sent", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn detail(
    State(state): State<AppState>,
    Reader(audience): Reader,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ticket = path_ticket(&ticket)?;
    let incident =
        state.store().get(ticket).await?.ok_or_else(|| ApiError::NotFound(format!("no incident {ticket}")))?;
    let timeline = state.store().timeline(ticket).await?;
    let view = IncidentDetailView::new(&incident, &timeline, audience);
    let body = to_json(&view)?;
    // The version names staff's copy (it is what If-Match takes); the public's, with less in it, is named apart.
    let etag = match audience {
        Audience::Staff => format!("\"{}\"", incident.version),
        Audience::Public => format!("\"{}-public\"", incident.version),
    };
    cached_json(&state, &headers, body, Some(etag), audience)
}

/// `GET /api/systems`: the catalog, without owners' contact details.
#[utoipa::path(
    get,
    path = "/api/systems",
    operation_id = "listSystems",
    tag = "dashboard",
    summary = "The systems catalog",
    security((), ("bearer" = []), ("session" = [])),
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the client's copy: 304 when it is current")),
    responses(
        (status = 200, description = "Every system", body = SystemListView, headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "`no-cache`: revalidate every time"))),
        (status = 304, description = "The client's copy is current"),
        (status = 401, description = "Reads are private and no valid API key or session was sent", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn systems(
    State(state): State<AppState>,
    Reader(audience): Reader,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = Key { route: "systems", audience, params: String::new() };
    let answer = state
        .read_cache()
        .get_or_make(key, || async {
            let systems = state.store().list_systems().await?;
            let list: Vec<SystemView> = systems.iter().map(|s| SystemView::new(s, audience)).collect();
            Answer::hashed(to_json(&SystemListView { systems: list })?)
        })
        .await?;
    Ok(conditional(&state, &headers, answer, "application/json", audience))
}

/// `GET /healthz`: the process answers. It checks nothing else, so it reveals nothing.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "dashboard",
    summary = "Liveness",
    security(()),
    responses((status = 200, description = "The process answers", body = Health))
)]
pub(crate) async fn healthz() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Json(Health { status: "ok" }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    #[test]
    fn only_from_given_runs_the_window_to_the_next_whole_minute() {
        let q = window_query(Some("from=2026-11-20"), NOW).unwrap();
        assert_eq!(q.window.from(), datetime!(2026-11-20 00:00 UTC));
        assert_eq!(q.window.to(), datetime!(2026-11-22 12:01 UTC));
    }

    #[test]
    fn only_to_given_runs_the_window_a_week_back() {
        let q = window_query(Some("to=2026-11-10T00:00:00Z"), NOW).unwrap();
        assert_eq!(q.window.from(), datetime!(2026-11-03 00:00 UTC));
    }
}
