//! What the status page says of each system: its current status, taken from its open incidents, and its daily
//! availability over a span of days, taken from the very same incidents, so a green percentage never sits above
//! a red day.
//!
//! Availability follows the Statuspage formula: a minute of major outage counts as a whole minute down, a minute
//! of partial outage as 30 % of one, and a degraded minute not at all. When incidents overlap on one system,
//! each minute counts once, at the worst impact any of them had then, so two incidents at once never make a day
//! worse than fully down.
//!
//! Days are UTC calendar days. The last day runs only to `now`: a morning's outage counts against the hours
//! that have passed, not against the whole day. Pure: no I/O, no clock of its own.

use std::collections::BTreeMap;

use time::{Date, Duration, OffsetDateTime, Time};

use crate::incident::Incident;

use crate::values::TicketNumber;
use crate::values::{Impact, SystemId};
/// How much of a minute an impact takes away from availability.
fn weight(impact: Impact) -> f64 {
    match impact {
        Impact::MajorOutage => 1.0,
        Impact::PartialOutage => 0.3,
        Impact::Degraded => 0.0,
    }
}

/// A system's status right now: the worst impact among its open incidents, or operational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CurrentStatus {
    Operational,
    Degraded,
    PartialOutage,
    MajorOutage,
}

impl CurrentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Degraded => "degraded",
            Self::PartialOutage => "partial_outage",
            Self::MajorOutage => "major_outage",
        }
    }

    /// The status in words, as a person reads it on the page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Operational => "Operational",
            Self::Degraded => "Degraded performance",
            Self::PartialOutage => "Partial outage",
            Self::MajorOutage => "Major outage",
        }
    }
}

impl From<Impact> for CurrentStatus {
    fn from(impact: Impact) -> Self {
        match impact {
            Impact::Degraded => Self::Degraded,
            Impact::PartialOutage => Self::PartialOutage,
            Impact::MajorOutage => Self::MajorOutage,
        }
    }
}

/// The current status of each system in `systems`, from the incidents still open among `incidents`. Systems
/// an incident names that are not in `systems` are left out.
pub fn current_status(systems: &[SystemId], incidents: &[Incident]) -> BTreeMap<SystemId, CurrentStatus> {
    let mut status: BTreeMap<SystemId, CurrentStatus> =
        systems.iter().map(|id| (id.clone(), CurrentStatus::Operational)).collect();
    for incident in incidents.iter().filter(|i| i.is_open()) {
        for affected in &incident.systems {
            if let Some(current) = status.get_mut(&affected.system) {
                *current = (*current).max(affected.impact.into());
            }
        }
    }
    status
}

/// The worst of many systems' statuses: the one line at the top of the page.
pub fn overall(statuses: impl IntoIterator<Item = CurrentStatus>) -> CurrentStatus {
    statuses.into_iter().max().unwrap_or(CurrentStatus::Operational)
}

/// One system's day.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: Date,
    /// Percent of the day's elapsed time the system was available, 0 to 100.
    pub percent: f64,
    /// The worst impact seen that day, if any incident touched it.
    pub worst: Option<Impact>,
    /// The incidents that touched the system that day, in order of start.
    pub incidents: Vec<TicketNumber>,
}

/// One system over the span.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemAvailability {
    pub system: SystemId,
    /// Percent of the whole span's elapsed time the system was available.
    pub percent: f64,
    pub days: Vec<Day>,
}

/// An impact on one system over `[from, to)`.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    from: OffsetDateTime,
    to: OffsetDateTime,
    weight: f64,
}

/// The weighted time down within `[from, to)`: each instant counts once, at the heaviest stretch covering it.
fn weighted_down(stretches: &[Stretch], from: OffsetDateTime, to: OffsetDateTime) -> Duration {
    let mut cuts: Vec<OffsetDateTime> = vec![from, to];
    for s in stretches {
        for t in [s.from, s.to] {
            if from < t && t < to {
                cuts.push(t);
            }
        }
    }
    cuts.sort();
    cuts.dedup();
    let mut seconds = 0.0;
    for pair in cuts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let heaviest = stretches.iter().filter(|s| s.from <= a && b <= s.to).map(|s| s.weight).fold(0.0_f64, f64::max);
        seconds += heaviest * (b - a).as_seconds_f64();
    }
    Duration::seconds_f64(seconds)
}

fn percent(down: Duration, elapsed: Duration) -> f64 {
    if elapsed <= Duration::ZERO {
        return 100.0;
    }
    (100.0 * (1.0 - down.as_seconds_f64() / elapsed.as_seconds_f64())).clamp(0.0, 100.0)
}

/// The daily availability of each system in `systems` over the `days` UTC days that end with `now`'s day,
/// oldest first, from `incidents` (any that overlap the span; others are ignored).
pub fn availability(
    systems: &[SystemId],
    incidents: &[Incident],
    days: u16,
    now: OffsetDateTime,
) -> Vec<SystemAvailability> {
    let now = now.to_offset(time::UtcOffset::UTC);
    let today = now.date();
    let first = today - Duration::days(i64::from(days.max(1)) - 1);
    let span_start = first.with_time(Time::MIDNIGHT).assume_utc();

    let mut by_system: BTreeMap<&SystemId, Vec<(Stretch, &Incident, Impact)>> =
        systems.iter().map(|id| (id, Vec::new())).collect();
    for incident in incidents {
        let to = incident.resolved_at.unwrap_or(now).min(now);
        if to <= span_start || incident.started_at >= now {
            continue;
        }
        for affected in &incident.systems {
            if let Some(list) = by_system.get_mut(&affected.system) {
                let stretch = Stretch { from: incident.started_at, to, weight: weight(affected.impact) };
                list.push((stretch, incident, affected.impact));
            }
        }
    }

    by_system
        .into_iter()
        .map(|(system, mut touched)| {
            touched.sort_by_key(|(s, i, _)| (s.from, i.ticket));
            let stretches: Vec<Stretch> = touched.iter().map(|(s, _, _)| *s).collect();
            let mut total_down = Duration::ZERO;
            let mut total_elapsed = Duration::ZERO;
            let mut out = Vec::with_capacity(usize::from(days));
            let mut date = first;
            while date <= today {
                let from = date.with_time(Time::MIDNIGHT).assume_utc();
                let to = (from + Duration::days(1)).min(now);
                let down = weighted_down(&stretches, from, to);
                total_down += down;
                total_elapsed += to - from;
                let on_day: Vec<&(Stretch, &Incident, Impact)> =
                    touched.iter().filter(|(s, _, _)| s.from < to && from < s.to).collect();
                out.push(Day {
                    date,
                    percent: percent(down, to - from),
                    worst: on_day.iter().map(|(_, _, impact)| *impact).max(),
                    incidents: on_day.iter().map(|(_, i, _)| i.ticket).collect(),
                });
                match date.next_day() {
                    Some(next) => date = next,
                    None => break,
                }
            }
            SystemAvailability { system: system.clone(), percent: percent(total_down, total_elapsed), days: out }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;
    use crate::incident::AffectedSystem;
    use crate::test_util::incident;
    use crate::values::Status;

    fn id(s: &str) -> SystemId {
        SystemId::parse("system", s).unwrap()
    }

    fn on(n: u64, system: &str, impact: Impact, from: OffsetDateTime, to: Option<OffsetDateTime>) -> Incident {
        let mut i = incident().ticket(n).build();
        i.systems = vec![AffectedSystem { system: id(system), impact }];
        i.started_at = from;
        i.resolved_at = to;
        i.status = if to.is_some() { Status::Resolved } else { Status::Investigating };
        i
    }

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    #[test]
    fn a_day_without_incidents_is_fully_available() {
        let report = availability(&[id("vpn")], &[], 3, NOW);
        assert_eq!(report[0].days.len(), 3);
        assert!(report[0].days.iter().all(|d| d.percent == 100.0 && d.incidents.is_empty()));
        assert_eq!(report[0].percent, 100.0);
    }

    #[test]
    fn an_hour_of_major_outage_takes_an_hour_off_its_day() {
        let i =
            on(1, "vpn", Impact::MajorOutage, datetime!(2026-11-21 10:00 UTC), Some(datetime!(2026-11-21 11:00 UTC)));
        let day = &availability(&[id("vpn")], &[i], 2, NOW)[0].days[0];
        assert_eq!(day.date, time::macros::date!(2026 - 11 - 21));
        assert!((day.percent - 100.0 * 23.0 / 24.0).abs() < 1e-9, "{}", day.percent);
        assert_eq!(day.worst, Some(Impact::MajorOutage));
    }

    #[test]
    fn a_partial_outage_counts_at_thirty_percent_and_degraded_not_at_all() {
        let partial =
            on(1, "vpn", Impact::PartialOutage, datetime!(2026-11-21 00:00 UTC), Some(datetime!(2026-11-21 10:00 UTC)));
        let degraded =
            on(2, "mail", Impact::Degraded, datetime!(2026-11-21 00:00 UTC), Some(datetime!(2026-11-21 10:00 UTC)));
        let report = availability(&[id("mail"), id("vpn")], &[partial, degraded], 2, NOW);
        let mail = &report[0].days[0];
        let vpn = &report[1].days[0];
        assert_eq!(mail.percent, 100.0);
        assert_eq!(mail.incidents.len(), 1, "a degraded day still lists its incident");
        assert!((vpn.percent - 100.0 * (1.0 - 0.3 * 10.0 / 24.0)).abs() < 1e-9, "{}", vpn.percent);
    }

    #[test]
    fn overlapping_incidents_count_each_minute_once_at_the_worst_impact() {
        let major =
            on(1, "vpn", Impact::MajorOutage, datetime!(2026-11-21 10:00 UTC), Some(datetime!(2026-11-21 12:00 UTC)));
        let partial =
            on(2, "vpn", Impact::PartialOutage, datetime!(2026-11-21 11:00 UTC), Some(datetime!(2026-11-21 13:00 UTC)));
        let day = &availability(&[id("vpn")], &[major, partial], 2, NOW)[0].days[0];
        // 10–12 fully down, 12–13 partial: 2 h + 0.3 h of 24 h.
        assert!((day.percent - 100.0 * (1.0 - 2.3 / 24.0)).abs() < 1e-9, "{}", day.percent);
        assert_eq!(day.incidents.len(), 2);
    }

    #[test]
    fn an_incident_across_midnight_counts_on_both_days() {
        let i =
            on(1, "vpn", Impact::MajorOutage, datetime!(2026-11-20 18:00 UTC), Some(datetime!(2026-11-21 06:00 UTC)));
        let days = &availability(&[id("vpn")], &[i], 3, NOW)[0].days;
        assert!((days[0].percent - 75.0).abs() < 1e-9);
        assert!((days[1].percent - 75.0).abs() < 1e-9);
        assert_eq!(days[2].percent, 100.0);
    }

    #[test]
    fn an_ongoing_incident_counts_until_now_and_today_is_judged_on_its_elapsed_hours() {
        let i = on(1, "vpn", Impact::MajorOutage, datetime!(2026-11-22 06:00 UTC), None);
        let report = &availability(&[id("vpn")], &[i], 1, NOW)[0];
        // Down 6 of the 12 hours that have passed today.
        assert!((report.days[0].percent - 50.0).abs() < 1e-9, "{}", report.days[0].percent);
        assert!((report.percent - 50.0).abs() < 1e-9);
    }

    #[test]
    fn the_span_percentage_agrees_with_its_days() {
        let i =
            on(1, "vpn", Impact::MajorOutage, datetime!(2026-11-21 00:00 UTC), Some(datetime!(2026-11-21 12:00 UTC)));
        let report = &availability(&[id("vpn")], &[i], 2, NOW)[0];
        // 12 h down of 36 h elapsed; no day is better than the span says of it.
        assert!((report.percent - 100.0 * 24.0 / 36.0).abs() < 1e-9, "{}", report.percent);
        assert!(report.days.iter().any(|d| d.percent <= report.percent));
    }

    #[test]
    fn incidents_before_the_span_or_on_other_systems_are_ignored() {
        let old =
            on(1, "vpn", Impact::MajorOutage, datetime!(2026-10-01 00:00 UTC), Some(datetime!(2026-10-02 00:00 UTC)));
        let other = on(2, "crm", Impact::MajorOutage, datetime!(2026-11-22 00:00 UTC), None);
        let report = availability(&[id("vpn")], &[old, other], 5, NOW);
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].percent, 100.0);
    }

    #[test]
    fn current_status_is_the_worst_open_impact_and_resolved_ones_do_not_count() {
        let open = on(1, "vpn", Impact::PartialOutage, datetime!(2026-11-22 06:00 UTC), None);
        let also_open = on(2, "vpn", Impact::Degraded, datetime!(2026-11-22 07:00 UTC), None);
        let resolved =
            on(3, "mail", Impact::MajorOutage, datetime!(2026-11-21 06:00 UTC), Some(datetime!(2026-11-21 07:00 UTC)));
        let status = current_status(&[id("mail"), id("vpn")], &[open, also_open, resolved]);
        assert_eq!(status[&id("vpn")], CurrentStatus::PartialOutage);
        assert_eq!(status[&id("mail")], CurrentStatus::Operational);
        assert_eq!(overall(status.values().copied()), CurrentStatus::PartialOutage);
    }
}
