//! `GET /api/availability`: what the status page's strips say, as JSON. Each system's status now, its
//! availability over the last days (90 by default) and each day's: the percentage, the worst impact and the
//! incidents that touched it. The figures follow the Statuspage formula (a minute of major outage counts whole,
//! of partial outage 30 %, degraded not at all), from the same incidents the page draws, so the JSON and the
//! page always agree.
//!
//! Its cost is the window read's: the incidents of the span, whatever the size of the table.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flare_core::availability::{self, CurrentStatus};
use flare_core::{Impact, SystemId, TicketNumber, ValidationErrors};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Reader;
use crate::error::{ApiError, ErrorBody};
use crate::read_cache::{Answer, Key};
use crate::reads::{self, Recent};
use crate::request::{bad_query, query_pairs};
use crate::respond::conditional;
use crate::state::AppState;

/// The most days one answer covers, and the default.
const DAYS_MAX: u16 = 90;

/// Every system's status and availability over the span.
#[derive(Serialize, ToSchema)]
#[schema(as = Availability)]
pub(crate) struct AvailabilityView {
    /// The span's first day (UTC).
    #[schema(format = Date)]
    from: String,
    /// The span's last day (UTC): today, counted up to the current minute.
    #[schema(format = Date)]
    to: String,
    /// The worst status among the systems: the status page's overall line.
    overall: CurrentStatus,
    systems: Vec<SystemAvailabilityView>,
}

/// One system over the span.
#[derive(Serialize, ToSchema)]
#[schema(as = SystemAvailability)]
pub(crate) struct SystemAvailabilityView {
    system: SystemId,
    name: String,
    /// The worst impact among its open incidents, or operational.
    status: CurrentStatus,
    /// Percent of the span's elapsed time the system was available, to three decimals.
    percent: f64,
    /// Oldest first.
    days: Vec<DayView>,
}

/// One system's day.
#[derive(Serialize, ToSchema)]
#[schema(as = AvailabilityDay)]
pub(crate) struct DayView {
    #[schema(format = Date)]
    date: String,
    /// Percent of the day's elapsed time the system was available, to three decimals.
    percent: f64,
    /// The worst impact any incident had on the system that day; `null` on a day without one.
    worst: Option<Impact>,
    /// The incidents that touched the system that day, in order of start.
    incidents: Vec<TicketNumber>,
}

/// The availability query. Both parameters are optional; others are refused.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes the query that span reads, for the document")]
pub(crate) struct AvailabilityParams {
    /// How many days, ending today, 1 to 90 (default 90).
    #[param(minimum = 1, maximum = 90)]
    days: Option<u16>,
    /// Only this system.
    #[param(pattern = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")]
    system: Option<String>,
}

/// Percentages to three decimals: what a person can read, and stable from one answer to the next.
fn rounded(p: f64) -> f64 {
    (p * 1000.0).round() / 1000.0
}

/// The query from the URL: `days` and `system`, each at most once.
fn span(raw: Option<&str>) -> Result<(u16, Option<SystemId>), ApiError> {
    let mut errors = ValidationErrors::new();
    let (mut days, mut system) = (None, None);
    query_pairs(raw, &["days", "system"], &mut errors, |name, value, errors| match name {
        "days" => match value.trim().parse::<u16>() {
            Ok(n) if (1..=DAYS_MAX).contains(&n) => days = Some(n),
            _ => errors.push("days", format!("must be a whole number from 1 to {DAYS_MAX}")),
        },
        _ => system = errors.check(SystemId::parse("system", value)),
    })?;
    errors.finish().map_err(bad_query)?;
    Ok((days.unwrap_or(DAYS_MAX), system))
}

/// `GET /api/availability?days&system`.
#[utoipa::path(
    get,
    path = "/api/availability",
    operation_id = "availability",
    tag = "dashboard",
    summary = "Each system's status now and its daily availability over the last days",
    security((), ("bearer" = []), ("session" = [])),
    params(AvailabilityParams, ("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the client's copy: 304 when it is current")),
    responses(
        (status = 200, description = "Every system's availability (or the one asked for). It changes at most once a minute unless an incident does", body = AvailabilityView, headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "Revalidate every time"))),
        (status = 304, description = "The client's copy is current"),
        (status = 400, description = "A parameter cannot be read, is out of range, is repeated or is unknown", body = ErrorBody),
        (status = 401, description = "Reads are private and no valid API key or session was sent", body = ErrorBody),
        (status = 404, description = "No system has that id", body = ErrorBody),
        (status = 500, description = "Internal error: opaque, with a request id", body = ErrorBody)
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Reader(audience): Reader,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (days, only) = span(raw.as_deref())?;
    let now = reads::this_minute(state.now());
    let params = format!("{}|{days}|{}", now.unix_timestamp(), only.as_ref().map(SystemId::as_str).unwrap_or_default());
    let key = Key { route: "availability", audience, params };
    let answer = state
        .read_cache()
        .get_or_make(key, || async {
            let Recent { catalog, status, strips } = reads::recent(&state, days, now).await?;
            let systems: Vec<SystemAvailabilityView> = catalog
                .iter()
                .zip(status)
                .zip(strips)
                .filter(|((system, _), _)| only.as_ref().is_none_or(|id| &system.id == id))
                .map(|((system, status), strip)| SystemAvailabilityView {
                    system: system.id.clone(),
                    name: system.name.to_string(),
                    status,
                    percent: rounded(strip.percent),
                    days: strip
                        .days
                        .into_iter()
                        .map(|d| DayView {
                            date: d.date.to_string(),
                            percent: rounded(d.percent),
                            worst: d.worst,
                            incidents: d.incidents,
                        })
                        .collect(),
                })
                .collect();
            if let Some(id) = &only
                && systems.is_empty()
            {
                return Err(ApiError::NotFound(format!("no system {id}: see GET /api/systems")));
            }
            let first = now.date() - time::Duration::days(i64::from(days) - 1);
            let view = AvailabilityView {
                from: first.to_string(),
                to: now.date().to_string(),
                overall: availability::overall(systems.iter().map(|s| s.status)),
                systems,
            };
            Answer::hashed(serde_json::to_vec(&view).map_err(ApiError::internal)?)
        })
        .await?;
    Ok(conditional(&state, &headers, answer, "application/json", audience))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_parameters_the_span_is_ninety_days_of_every_system() {
        assert_eq!(span(None).unwrap(), (90, None));
    }

    #[test]
    fn days_beyond_ninety_are_refused_by_name() {
        let Err(ApiError::Malformed { fields, .. }) = span(Some("days=91")) else { panic!("accepted 91 days") };
        assert_eq!(fields[0].field, "days");
    }

    #[test]
    fn an_unknown_parameter_is_refused_by_name() {
        let Err(ApiError::Malformed { fields, .. }) = span(Some("day=3")) else { panic!("accepted day") };
        assert_eq!(fields[0].field, "day");
    }
}
