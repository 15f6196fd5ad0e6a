//! The status page (`GET /`, also `/dashboard`): what the whole company opens during an outage. Server-rendered
//! so that its first paint needs no script: one overall line, each system's current status and its 90-day
//! availability strip, and the incidents of the chosen range (the last 7 days by default) with their systems,
//! engineer, start, end, duration and ticket.
//!
//! Everything in the query string is a view of the same data, so a view can be shared by its URL: a quick range
//! (`range=24h|7d|30d|90d`) or `from`/`to` dates, filters by `system`, `severity` and `status`, and a `day` to
//! drill into (`day=2026-11-22`). Reads follow the same rule as the JSON API.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flare_core::availability::{self, CurrentStatus};
use flare_core::view::{Audience, IncidentView};
use flare_core::{FieldError, Impact, Incident, Severity, Status, SystemId, ValidationErrors, Window, WindowQuery};
use serde::Deserialize;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, Time};

use crate::auth;
use crate::error::ApiError;
use crate::incident_page::{human_duration, readable};
use crate::pages::{self, Nav, PageError};
use crate::read_cache::{Answer, Key};
use crate::reads::{self, Recent, read_all};
use crate::state::AppState;

/// Days of availability each system's strip shows.
const STRIP_DAYS: u16 = 90;
/// The most incidents one view lists; a longer range says so and asks for a narrower one.
const LIST_MAX: usize = 500;

/// The quick ranges offered above the list, by their URL value.
const RANGES: &[(&str, &str, i64)] =
    &[("24h", "24 hours", 1), ("7d", "7 days", 7), ("30d", "30 days", 30), ("90d", "90 days", 90)];

/// The page's query string. Every field is optional; a bad one is named on the page, not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PageQuery {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    system: Option<String>,
    severity: Option<String>,
    status: Option<String>,
    day: Option<String>,
}

/// The view the query asks for, once parsed.
#[derive(Debug)]
struct View {
    window: Window,
    /// The quick range chosen, if the window is one.
    range: Option<&'static str>,
    system: Option<SystemId>,
    severity: Option<Severity>,
    status: Option<Status>,
    day: Option<Date>,
}

fn parse_date(field: &str, raw: &str) -> Result<Date, FieldError> {
    Date::parse(raw.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| FieldError::new(field, "must be a date such as 2026-11-22"))
}

fn midnight(date: Date) -> OffsetDateTime {
    date.with_time(Time::MIDNIGHT).assume_utc()
}

impl PageQuery {
    fn parse(self, now: OffsetDateTime) -> Result<View, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        // An empty field is what a form sends for "any": it filters nothing.
        let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let system = given(self.system).and_then(|s| errors.check(SystemId::parse("system", &s)));
        let severity = given(self.severity).and_then(|s| errors.check(Severity::parse("severity", &s)));
        let status = given(self.status).and_then(|s| errors.check(Status::parse("status", &s)));
        let day = given(self.day).and_then(|s| errors.check(parse_date("day", &s)));
        let from = given(self.from).and_then(|s| errors.check(parse_date("from", &s)));
        let to = given(self.to).and_then(|s| errors.check(parse_date("to", &s)));
        let quick = match given(self.range).as_deref() {
            None => None,
            Some(r) => match RANGES.iter().find(|(value, _, _)| *value == r) {
                Some(found) => Some(*found),
                None => {
                    errors.push("range", "must be one of 24h, 7d, 30d, 90d");
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        // "Now" on whole minutes, so the page, and its ETag, stay the same for a minute unless an incident changes.
        let end = Window::minute_after(now);
        let (from, to, range) = match (from, to, quick) {
            // Dates name whole days: `to` is the last day shown.
            (Some(f), Some(t), _) => (midnight(f), midnight(t) + Duration::days(1), None),
            (Some(f), None, _) => (midnight(f), end, None),
            (None, Some(t), _) => (midnight(t) - Duration::days(6), midnight(t) + Duration::days(1), None),
            (None, None, Some((value, _, days))) => (end - Duration::days(days), end, Some(value)),
            (None, None, None) => (end - Duration::days(7), end, Some("7d")),
        };
        // A range reaching into the future ends now; one wholly in the future is refused by `Window::new`.
        let window = Window::new(from, to.min(end))?;
        Ok(View { window, range, system, severity, status, day })
    }
}

/// One day cell of a system's strip.
#[derive(Debug)]
struct DayCell {
    /// `2026-11-22`, for the drill-down link.
    iso: String,
    /// What a screen reader and the tooltip say: `22 Nov 2026: 99.2% available, 1 incident`.
    label: String,
    /// `ok`, `degraded`, `partial` or `major`: the colour, never the only cue (the label says it in words).
    class: &'static str,
}

/// One system's row: its status now and its strip.
#[derive(Debug)]
struct SystemRow {
    id: String,
    name: String,
    status: CurrentStatus,
    percent: String,
    days: Vec<DayCell>,
}

/// One incident as the list shows it.
#[derive(Debug)]
struct IncidentRow {
    i: IncidentView,
    /// `Remote access VPN — partial outage`, one per system.
    systems: Vec<String>,
    started: String,
    ended: Option<String>,
    duration: String,
    ticket_url: Option<String>,
}

/// One incident's bar in one system's lane of the timeline.
#[derive(Debug)]
struct Bar {
    /// Where the bar starts and how wide it is, in percent of the range.
    left: String,
    width: String,
    /// The incident's row in the list, whose details the tooltip shows.
    row: usize,
    /// The impact on this lane's system, in words.
    impact: &'static str,
    ongoing: bool,
}

/// One system's lane of the timeline.
#[derive(Debug)]
struct Lane {
    id: String,
    name: String,
    bars: Vec<Bar>,
}

/// A labelled tick on the timeline's axis.
#[derive(Debug)]
struct Tick {
    left: String,
    label: String,
}

#[derive(Debug)]
struct RangeLink {
    label: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: Nav,
    /// Whether the reader is the public, who sees no engineer and no ticket.
    public: bool,
    overall: CurrentStatus,
    /// The systems not operational, by name, for the overall line.
    affected: Vec<String>,
    systems: Vec<SystemRow>,
    ranges: Vec<RangeLink>,
    from_date: String,
    to_date: String,
    incidents: Vec<IncidentRow>,
    lanes: Vec<Lane>,
    ticks: Vec<Tick>,
    truncated: bool,
    day: Option<String>,
    day_incidents: Vec<IncidentRow>,
    systems_options: Vec<Opt>,
    severities: Vec<Opt>,
    statuses: Vec<Opt>,
    errors: Vec<(String, String)>,
}

/// One choice of a filter, as the form shows it again.
#[derive(Debug)]
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn options<'a>(all: impl IntoIterator<Item = (&'a str, String)>, chosen: &str) -> Vec<Opt> {
    all.into_iter().map(|(value, label)| Opt { selected: value == chosen, value: value.to_owned(), label }).collect()
}

fn day_label(date: Date) -> String {
    date.format(format_description!("[day padding:none] [month repr:short] [year]"))
        .unwrap_or_else(|_| date.to_string())
}

fn day_cell(day: &availability::Day) -> DayCell {
    let count = match day.incidents.len() {
        0 => "no incidents".to_owned(),
        1 => "1 incident".to_owned(),
        n => format!("{n} incidents"),
    };
    let class = match day.worst {
        None => "ok",
        Some(Impact::Degraded) => "degraded",
        Some(Impact::PartialOutage) => "partial",
        Some(Impact::MajorOutage) => "major",
    };
    DayCell {
        iso: day.date.to_string(),
        label: format!("{}: {} available, {count}", day_label(day.date), percent(day.percent)),
        class,
    }
}

/// `99.2%`, and `100%` only when nothing at all was lost.
fn percent(p: f64) -> String {
    if p >= 100.0 { "100%".to_owned() } else { format!("{:.1}%", (p * 10.0).floor() / 10.0) }
}

fn row(
    incident: &Incident,
    names: &BTreeMap<SystemId, String>,
    now: OffsetDateTime,
    audience: Audience,
) -> IncidentRow {
    let i = IncidentView::new(incident, audience);
    let end = incident.resolved_at.unwrap_or(now);
    IncidentRow {
        systems: incident
            .systems
            .iter()
            .map(|s| {
                let name = names.get(&s.system).cloned().unwrap_or_else(|| s.system.to_string());
                format!("{name} — {}", s.impact.label())
            })
            .collect(),
        started: readable(incident.started_at),
        ended: incident.resolved_at.map(readable),
        duration: human_duration((end - incident.started_at).whole_seconds()),
        // Only web links become links: a `javascript:` URL is not a ticket.
        ticket_url: i.ticket_link().map(str::to_owned),
        i,
    }
}

/// Percent of `[from, to)` that `at` lies at, clamped to the range, with two decimals for the stylesheet.
fn position(at: OffsetDateTime, from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    let span = (to - from).as_seconds_f64().max(1.0);
    ((at - from).as_seconds_f64() / span * 100.0).clamp(0.0, 100.0)
}

/// The timeline's lanes: one per system (or only the filtered one), each incident a bar from its start to its
/// end, or to now while it goes on. `listed` is in the order of the list below the chart.
fn lanes(catalog: &[flare_core::System], listed: &[Incident], window: &Window, now: OffsetDateTime) -> Vec<Lane> {
    let (from, to) = (window.from(), window.to());
    catalog
        .iter()
        .map(|system| {
            let bars = listed
                .iter()
                .enumerate()
                .filter_map(|(row, incident)| {
                    let affected = incident.systems.iter().find(|a| a.system == system.id)?;
                    let start = position(incident.started_at, from, to);
                    let end = position(incident.resolved_at.unwrap_or(now), from, to);
                    Some(Bar {
                        left: format!("{start:.2}"),
                        // A bar stays visible however short the incident was.
                        width: format!("{:.2}", (end - start).max(0.4)),
                        row,
                        impact: affected.impact.label(),
                        ongoing: incident.resolved_at.is_none(),
                    })
                })
                .collect();
            Lane { id: system.id.to_string(), name: system.name.to_string(), bars }
        })
        .collect()
}

/// Five evenly spaced labels under the timeline: times of day for a range of two days or less, dates beyond.
fn ticks(window: &Window) -> Vec<Tick> {
    let (from, to) = (window.from(), window.to());
    let short = to - from <= Duration::days(2);
    (0..5)
        .map(|n| {
            let at = from + (to - from) * (f64::from(n) / 4.0);
            let label = if short {
                at.format(format_description!("[day padding:none] [month repr:short] [hour]:[minute]"))
            } else {
                at.format(format_description!("[day padding:none] [month repr:short]"))
            };
            Tick { left: format!("{:.2}", f64::from(n) * 25.0), label: label.unwrap_or_default() }
        })
        .collect()
}

/// `GET /`.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "statusPage",
    tag = "pages",
    summary = "The status page: each system's status, its 90-day availability, the timeline and list of a range",
    security((), ("bearer" = []), ("session" = [])),
    params(
        ("range" = Option<String>, Query, description = "A quick range: 24h, 7d (the default), 30d or 90d"),
        ("from" = Option<String>, Query, description = "The first day shown, like 2026-11-01"),
        ("to" = Option<String>, Query, description = "The last day shown, like 2026-11-07"),
        ("system" = Option<String>, Query, description = "Only incidents affecting this system"),
        ("severity" = Option<String>, Query, description = "Only incidents of this severity"),
        ("status" = Option<String>, Query, description = "Only incidents in this status"),
        ("day" = Option<String>, Query, description = "A day to list the incidents of, like 2026-11-22"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the browser's copy: 304 when it is current")
    ),
    responses(
        (status = 200, description = "The page. A setting that cannot be read is named on the page, which then shows the default view", content_type = "text/html", body = String, headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "The browser's copy is current"),
        (status = 303, description = "Reads are private: sign in first", headers(("Location" = String, description = "Where to go"))),
        (status = 401, description = "An API key was sent but is not valid", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let session = auth::session_user(&state, &headers).await?;
    let audience = match auth::reader(&state, &headers).await {
        Ok(audience) => audience,
        Err(ApiError::Unauthenticated(_)) if !headers.contains_key(axum::http::header::AUTHORIZATION) => {
            return Err(PageError::SignIn { next: "/".to_owned() });
        }
        Err(other) => return Err(other.into()),
    };
    let now = state.now();
    let answer = match session {
        // A signed-in user's page carries their name and sign-out token, so it is theirs alone.
        Some((session, user)) => {
            render(&state, Nav::signed_in(&state, &session, &user), raw.as_deref(), now, audience).await?
        }
        // Everyone else asking for the same view in the same minute gets the same page.
        None => {
            let params =
                format!("{}|{}", Window::minute_after(now).unix_timestamp(), raw.as_deref().unwrap_or_default());
            let key = Key { route: "status", audience, params };
            state
                .read_cache()
                .get_or_make(key, || render(&state, Nav::anonymous(), raw.as_deref(), now, audience))
                .await?
        }
    };
    // The script polls this page every minute; an unchanged view costs a bodiless 304.
    Ok(pages::revalidated_html(&state, &headers, answer, audience))
}

/// The page for the query `raw`, as `audience` sees it at `now`.
async fn render(
    state: &AppState,
    nav: Nav,
    raw: Option<&str>,
    now: OffsetDateTime,
    audience: Audience,
) -> Result<Answer, ApiError> {
    // Durations "so far" and today's availability count to the minute, so the page changes once a minute.
    let now = reads::this_minute(now);
    let parsed = serde_urlencoded::from_str::<PageQuery>(raw.unwrap_or_default()).map_err(|e| {
        let mut errors = ValidationErrors::new();
        errors.push("query", format!("is not understood: {e}"));
        errors
    });
    let (view, errors) = match parsed.and_then(|q| q.parse(now)) {
        Ok(view) => (view, Vec::new()),
        Err(errors) => {
            let listed = errors.iter().map(|e| (e.field.clone(), e.reason.clone())).collect();
            (PageQuery::default().parse(now).map_err(ApiError::Invalid)?, listed)
        }
    };

    let Recent { catalog, status, strips } = reads::recent(state, STRIP_DAYS, now).await?;
    let names: BTreeMap<SystemId, String> = catalog.iter().map(|s| (s.id.clone(), s.name.to_string())).collect();
    let systems: Vec<SystemRow> = catalog
        .iter()
        .zip(strips)
        .zip(&status)
        .map(|((system, strip), status)| SystemRow {
            id: system.id.to_string(),
            name: system.name.to_string(),
            status: *status,
            percent: percent(strip.percent),
            days: strip.days.iter().map(day_cell).collect(),
        })
        .collect();
    let overall = availability::overall(status.iter().copied());
    let affected = systems.iter().filter(|s| s.status != CurrentStatus::Operational).map(|s| s.name.clone()).collect();

    let mut query = WindowQuery::new(view.window);
    query.system = view.system.clone();
    query.severity = view.severity;
    query.status = view.status;
    let (listed, truncated) = read_all(state, query, LIST_MAX).await?;
    let lane_systems: Vec<flare_core::System> =
        catalog.iter().filter(|s| view.system.as_ref().is_none_or(|id| &s.id == id)).cloned().collect();
    let lanes = lanes(&lane_systems, &listed, &view.window, now);

    // Any day, not only the strip's: its own window from the store, with the system filter.
    let day_window = view.day.map(|day| Window::new(midnight(day), (midnight(day) + Duration::days(1)).min(now)));
    let day_incidents = match day_window {
        Some(Ok(window)) => {
            let mut query = WindowQuery::new(window);
            query.system = view.system.clone();
            read_all(state, query, LIST_MAX).await?.0.iter().map(|i| row(i, &names, now, audience)).collect()
        }
        // A day still to come has had no incidents.
        Some(Err(_)) | None => Vec::new(),
    };

    let system = view.system.as_ref().map(ToString::to_string).unwrap_or_default();
    let severity = view.severity.map(|s| s.as_str()).unwrap_or_default();
    let state_filter = view.status.map(|s| s.as_str()).unwrap_or_default();
    let keep = |range: &str| {
        let mut pairs = vec![("range", range.to_owned())];
        for (k, v) in [("system", system.as_str()), ("severity", severity), ("status", state_filter)] {
            if !v.is_empty() {
                pairs.push((k, v.to_owned()));
            }
        }
        format!("/?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let ranges = RANGES
        .iter()
        .map(|(value, label, _)| RangeLink { label, href: keep(value), current: view.range == Some(value) })
        .collect();
    let page = StatusPage {
        nav,
        public: audience.is_public(),
        overall,
        affected,
        systems,
        ranges,
        from_date: view.window.from().date().to_string(),
        to_date: (view.window.to() - Duration::nanoseconds(1)).date().to_string(),
        incidents: listed.iter().map(|i| row(i, &names, now, audience)).collect(),
        lanes,
        ticks: ticks(&view.window),
        truncated,
        day: view.day.map(day_label),
        day_incidents,
        systems_options: options(catalog.iter().map(|s| (s.id.as_str(), s.name.to_string())), &system),
        severities: options(Severity::ALL.iter().map(|s| (s.as_str(), format!("{} ({})", s, s.label()))), severity),
        statuses: options(Status::ALL.iter().map(|s| (s.as_str(), s.as_str().to_owned())), state_filter),
        errors,
    };
    pages::revalidated_answer(&page)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    #[test]
    fn no_query_shows_the_last_seven_days() {
        let view = PageQuery::default().parse(NOW).unwrap();
        assert_eq!(view.window.from(), datetime!(2026-11-15 12:01 UTC));
        assert_eq!(view.window.to(), datetime!(2026-11-22 12:01 UTC));
        assert_eq!(view.range, Some("7d"));
    }

    #[test]
    fn dates_name_whole_days_and_to_is_the_last_day_shown() {
        let q = PageQuery { from: Some("2026-11-01".into()), to: Some("2026-11-03".into()), ..PageQuery::default() };
        let view = q.parse(NOW).unwrap();
        assert_eq!(view.window.from(), datetime!(2026-11-01 00:00 UTC));
        assert_eq!(view.window.to(), datetime!(2026-11-04 00:00 UTC));
        assert_eq!(view.range, None);
    }

    #[test]
    fn a_bad_filter_is_named_with_its_reason() {
        let q = PageQuery { severity: Some("sev9".into()), range: Some("1y".into()), ..PageQuery::default() };
        let errors = q.parse(NOW).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["severity", "range"]);
    }

    #[test]
    fn a_day_reads_as_a_date_with_its_availability_and_incidents() {
        let day = availability::Day {
            date: time::macros::date!(2026 - 11 - 22),
            percent: 99.26,
            worst: Some(Impact::PartialOutage),
            incidents: vec![flare_core::TicketNumber::from_number(7).unwrap()],
        };
        let cell = day_cell(&day);
        assert_eq!(cell.label, "22 Nov 2026: 99.2% available, 1 incident");
        assert_eq!(cell.class, "partial");
    }
}

/// `GET /dashboard`: the name people guess for the status page. It sends the browser to `/`, keeping the query
/// string, so a view has one address and one cached copy.
#[utoipa::path(
    get,
    path = "/dashboard",
    operation_id = "dashboardPage",
    tag = "pages",
    summary = "The status page's other name: a permanent redirect to /, with the same query string",
    responses(
        (status = 308, description = "The status page is at /", headers(("Location" = String, description = "/ with the request's query string")))
    )
)]
pub(crate) async fn dashboard(RawQuery(raw): RawQuery) -> Response {
    let to = raw.filter(|q| !q.is_empty()).map_or_else(|| "/".to_owned(), |q| format!("/?{q}"));
    let location = HeaderValue::from_str(&to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response()
}
