//! The weekly digest: the week's incidents by system and severity, what is still open, each system's MTTA, MTTR
//! and longest outage, and a chart of incidents per day, rendered from `templates/report/digest.*`.
//!
//! The measures are defined once, here, and the mail quotes these definitions ([`MTTA_DEFINITION`] and the
//! rest): "MTTR" means four different things elsewhere.
//!
//! Pure: it is handed the week's incidents with their timelines.

use std::collections::BTreeMap;

use askama::Template;
use time::{Duration, OffsetDateTime};

use super::chart::incidents_per_day_png;
use super::{RenderError, Rendered, ReportLinks, duration_words, when};
use crate::access::ActorKind;
use crate::catalog::System;
use crate::incident::Incident;
use crate::notify::Subject;
use crate::timeline::{EventKind, TimelineEvent};
use crate::values::{Severity, SystemId, TicketNumber};

/// The Content-ID of the chart in the digest's HTML (`cid:` this).
pub const DIGEST_CHART_CID: &str = "incidents-per-day@flare";

pub const MTTA_DEFINITION: &str = "for the week's incidents, the mean time from the incident being opened in Flare \
    to its first update, note or resolution by a person or an API client (Flare's own ticket links and polled \
    changes do not count). Incidents nobody acknowledged yet are left out.";
pub const MTTR_DEFINITION: &str = "for the week's incidents that are resolved, the mean time from the start of the \
    outage, as recorded on the incident, to its resolution. A reopened incident counts up to its last \
    resolution. Open incidents are left out.";
pub const LONGEST_DEFINITION: &str = "the longest of the week's incidents, from the start of the outage to its \
    resolution, or to the end of the week for one still open.";

/// The week and its incidents.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The week: `[from, to)`, seven days.
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// Every incident overlapping the week, each with its timeline (oldest first). Those that started in the
    /// week are "the week's incidents"; those still open are listed as open whenever they started.
    pub incidents: &'a [(Incident, Vec<TimelineEvent>)],
    /// The catalog, for system names.
    pub systems: &'a [System],
    pub links: &'a ReportLinks,
}

/// One system's measures over the week's incidents that affect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemMeasures {
    pub system: SystemId,
    pub name: String,
    pub incidents: usize,
    /// Counts by severity, sev1 first.
    pub by_severity: [usize; 4],
    pub mtta: Option<Duration>,
    pub mttr: Option<Duration>,
    pub longest: Option<(Duration, TicketNumber)>,
}

/// The digest's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measures {
    /// Incidents opened on each day of the week.
    pub per_day: Vec<(time::Date, u32)>,
    /// Systems with incidents this week, most incidents first.
    pub systems: Vec<SystemMeasures>,
    /// The week's incidents, by start.
    pub week: Vec<TicketNumber>,
    /// Incidents open now, by start.
    pub open: Vec<TicketNumber>,
}

/// A rendered digest: the mail, its chart, and the numbers it shows.
#[derive(Debug, Clone)]
pub struct Digest {
    pub rendered: Rendered,
    pub chart_png: Vec<u8>,
    pub measures: Measures,
}

/// When someone first acknowledged the incident: the first update, note, resolution or reopening by a person or
/// an API client.
fn acknowledged(timeline: &[TimelineEvent]) -> Option<OffsetDateTime> {
    timeline
        .iter()
        .filter(|e| e.seq > 1 && e.actor.kind != ActorKind::System)
        .find(|e| matches!(e.kind, EventKind::Updated | EventKind::Note | EventKind::Resolved | EventKind::Reopened))
        .map(|e| e.at)
}

fn mean(durations: &[Duration]) -> Option<Duration> {
    let n = i32::try_from(durations.len()).ok().filter(|n| *n > 0)?;
    Some(durations.iter().copied().sum::<Duration>() / n)
}

/// The digest's numbers for `input`.
pub fn measures(input: &DigestInput<'_>) -> Measures {
    let in_week = |i: &Incident| i.started_at >= input.from && i.started_at < input.to;
    let mut week: Vec<&(Incident, Vec<TimelineEvent>)> = input.incidents.iter().filter(|(i, _)| in_week(i)).collect();
    week.sort_by_key(|(i, _)| (i.started_at, i.ticket));

    let days = (input.to - input.from).whole_days().max(1);
    let per_day = (0..days)
        .map(|d| {
            let day = (input.from + Duration::days(d)).date();
            let count = week.iter().filter(|(i, _)| i.started_at.date() == day).count();
            (day, u32::try_from(count).unwrap_or(u32::MAX))
        })
        .collect();

    let mut by_system: BTreeMap<&SystemId, Vec<&(Incident, Vec<TimelineEvent>)>> = BTreeMap::new();
    for entry in &week {
        for s in &entry.0.systems {
            by_system.entry(&s.system).or_default().push(entry);
        }
    }
    let mut systems: Vec<SystemMeasures> = by_system
        .into_iter()
        .map(|(id, list)| {
            let mut by_severity = [0; 4];
            for (i, _) in &list {
                let slot = Severity::ALL.iter().position(|s| *s == i.severity).unwrap_or(3);
                by_severity[slot] += 1;
            }
            let acks: Vec<Duration> = list
                .iter()
                .filter_map(|(i, t)| acknowledged(t).map(|at| (at - i.created_at).max(Duration::ZERO)))
                .collect();
            let repairs: Vec<Duration> =
                list.iter().filter_map(|(i, _)| i.resolved_at.map(|r| r - i.started_at)).collect();
            let longest = list
                .iter()
                .map(|(i, _)| (i.resolved_at.unwrap_or(input.to) - i.started_at, i.ticket))
                .max_by_key(|(d, t)| (*d, std::cmp::Reverse(*t)));
            SystemMeasures {
                system: id.clone(),
                name: input.systems.iter().find(|s| &s.id == id).map_or_else(|| id.to_string(), |s| s.name.to_string()),
                incidents: list.len(),
                by_severity,
                mtta: mean(&acks),
                mttr: mean(&repairs),
                longest,
            }
        })
        .collect();
    systems.sort_by(|a, b| b.incidents.cmp(&a.incidents).then_with(|| a.name.cmp(&b.name)));

    let mut open: Vec<&Incident> = input.incidents.iter().map(|(i, _)| i).filter(|i| i.is_open()).collect();
    open.sort_by_key(|i| (i.started_at, i.ticket));
    Measures {
        per_day,
        systems,
        week: week.iter().map(|(i, _)| i.ticket).collect(),
        open: open.iter().map(|i| i.ticket).collect(),
    }
}

#[derive(Debug)]
struct SystemRow {
    name: String,
    count: usize,
    severities: String,
    mtta: String,
    mttr: String,
    longest: String,
}

#[derive(Debug)]
struct IncidentRow {
    ticket: String,
    title: String,
    severity: String,
    systems: String,
    state: String,
    url: String,
}

#[derive(Debug)]
struct DigestView {
    period: String,
    headline: String,
    chart_cid: &'static str,
    chart_alt: String,
    days: Vec<String>,
    systems: Vec<SystemRow>,
    incidents: Vec<IncidentRow>,
    open: Vec<IncidentRow>,
    mtta_definition: &'static str,
    mttr_definition: &'static str,
    longest_definition: &'static str,
    reason: &'static str,
}

#[derive(Template)]
#[template(path = "report/digest.html")]
struct Html<'a> {
    d: &'a DigestView,
}

#[derive(Template)]
#[template(path = "report/digest.txt")]
struct Text<'a> {
    d: &'a DigestView,
}

fn day_label(day: time::Date) -> String {
    format!("{} {}", &day.weekday().to_string()[..3], day.day())
}

/// Renders the digest: the mail (its HTML shows the chart as `cid:`[`DIGEST_CHART_CID`]) and the chart.
pub fn render_digest(input: &DigestInput<'_>) -> Result<Digest, RenderError> {
    let m = measures(input);
    let find = |t: &TicketNumber| input.incidents.iter().map(|(i, _)| i).find(|i| i.ticket == *t);
    let name_of = |id: &SystemId| {
        input.systems.iter().find(|s| &s.id == id).map_or_else(|| id.to_string(), |s| s.name.to_string())
    };
    let row = |i: &Incident| IncidentRow {
        ticket: i.ticket.to_string(),
        title: i.title.to_string(),
        severity: format!("{} ({})", i.severity, i.severity.label()),
        systems: i.systems.iter().map(|s| name_of(&s.system)).collect::<Vec<_>>().join(", "),
        state: match i.resolved_at {
            Some(r) if !i.is_open() => format!("resolved after {}", duration_words(r - i.started_at)),
            _ => format!("{} since {}", i.status, when(i.started_at)),
        },
        url: input.links.incident(i.ticket),
    };
    let none = || "none yet".to_string();
    let last_day = input.to - Duration::seconds(1);
    let view = DigestView {
        period: format!(
            "{} to {}",
            when(input.from).replace(" 00:00 UTC", ""),
            when(last_day).replace(" 23:59 UTC", "")
        ),
        headline: format!(
            "{} this week; {} open now.",
            match m.week.len() {
                1 => "1 incident".to_string(),
                n => format!("{n} incidents"),
            },
            m.open.len()
        ),
        chart_cid: DIGEST_CHART_CID,
        chart_alt: m.per_day.iter().map(|(d, n)| format!("{} {n}", day_label(*d))).collect::<Vec<_>>().join(", "),
        days: m
            .per_day
            .iter()
            .map(|(d, n)| format!("{:<7} {n:>3} {}", day_label(*d), "#".repeat(*n as usize)))
            .collect(),
        systems: m
            .systems
            .iter()
            .map(|s| SystemRow {
                name: s.name.clone(),
                count: s.incidents,
                severities: Severity::ALL
                    .iter()
                    .zip(s.by_severity)
                    .filter(|(_, n)| *n > 0)
                    .map(|(sev, n)| format!("{n} {sev}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                mtta: s.mtta.map_or_else(none, duration_words),
                mttr: s.mttr.map_or_else(none, duration_words),
                longest: s.longest.map_or_else(none, |(d, t)| format!("{} ({t})", duration_words(d))),
            })
            .collect(),
        incidents: m.week.iter().filter_map(find).map(row).collect(),
        open: m.open.iter().filter_map(find).map(row).collect(),
        mtta_definition: MTTA_DEFINITION,
        mttr_definition: MTTR_DEFINITION,
        longest_definition: LONGEST_DEFINITION,
        reason: "a stakeholder or an owner of a system that had an incident this week",
    };
    let subject = format!("Flare weekly digest: {} ({})", view.period, view.headline.trim_end_matches('.'));
    let subject = Subject::parse("subject", &subject).map_err(|e| RenderError::Subject(e.reason))?;
    let labels: Vec<(String, u32)> = m.per_day.iter().map(|(d, n)| (day_label(*d), *n)).collect();
    let chart_png = incidents_per_day_png(&labels)?;
    let rendered = Rendered { subject, html: Html { d: &view }.render()?, text: Text { d: &view }.render()? };
    Ok(Digest { rendered, chart_png, measures: m })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;
    use crate::report::tests::{by_ada, links};
    use crate::test_util::incident;

    const FROM: OffsetDateTime = datetime!(2026-11-23 00:00 UTC);
    const TO: OffsetDateTime = datetime!(2026-11-30 00:00 UTC);

    fn input(incidents: &[(Incident, Vec<TimelineEvent>)]) -> DigestInput<'_> {
        static LINKS: OnceLock<ReportLinks> = OnceLock::new();
        DigestInput { from: FROM, to: TO, incidents, systems: &[], links: LINKS.get_or_init(links) }
    }
    use std::sync::OnceLock;

    /// An incident on `system` that started at `start` and, if given, resolved at `end`; Ada acknowledged it
    /// `ack` minutes after it was opened.
    fn on(
        n: u64,
        system: &str,
        start: OffsetDateTime,
        end: Option<OffsetDateTime>,
        ack: i64,
    ) -> (Incident, Vec<TimelineEvent>) {
        let mut b = incident().ticket(n).system(system).started_at(start);
        if let Some(end) = end {
            b = b.resolved_at(end);
        }
        let i = b.build();
        let mut t = vec![by_ada(&i, 1, EventKind::Opened, start)];
        t.push(TimelineEvent {
            actor: crate::access::Actor::system("dispatcher"),
            ..by_ada(&i, 2, EventKind::TicketLinked, start)
        });
        t.push(by_ada(&i, 3, EventKind::Note, start + Duration::minutes(ack)));
        (i, t)
    }

    #[test]
    fn mtta_runs_from_opening_to_the_first_human_update_not_to_flares_own_events() {
        let week = [
            on(1, "vpn", datetime!(2026-11-24 09:00 UTC), None, 10),
            on(2, "vpn", datetime!(2026-11-25 09:00 UTC), None, 30),
        ];
        let m = measures(&input(&week));
        assert_eq!(m.systems[0].mtta, Some(Duration::minutes(20)));
    }

    #[test]
    fn mttr_averages_resolved_incidents_only_and_the_longest_outage_counts_open_ones_to_the_end_of_the_week() {
        let week = [
            on(1, "vpn", datetime!(2026-11-24 09:00 UTC), Some(datetime!(2026-11-24 10:00 UTC)), 5),
            on(2, "vpn", datetime!(2026-11-25 09:00 UTC), Some(datetime!(2026-11-25 12:00 UTC)), 5),
            on(3, "vpn", datetime!(2026-11-29 00:00 UTC), None, 5),
        ];
        let m = measures(&input(&week));
        assert_eq!(m.systems[0].mttr, Some(Duration::minutes(120)));
        assert_eq!(m.systems[0].longest, Some((Duration::hours(24), crate::test_util::ticket(3))));
        assert_eq!(m.open, [crate::test_util::ticket(3)]);
    }

    #[test]
    fn incidents_are_counted_on_the_day_they_started() {
        let week = [
            on(1, "vpn", datetime!(2026-11-23 00:00 UTC), None, 5),
            on(2, "mail", datetime!(2026-11-23 23:59 UTC), None, 5),
            on(3, "vpn", datetime!(2026-11-20 09:00 UTC), None, 5),
        ];
        let m = measures(&input(&week));
        let counts: Vec<u32> = m.per_day.iter().map(|d| d.1).collect();
        assert_eq!(counts, [2, 0, 0, 0, 0, 0, 0], "the one from the week before is open, not this week's");
        assert_eq!(m.open.len(), 3);
    }

    #[test]
    fn the_digest_shows_its_chart_inline_and_escapes_titles() {
        let mut hostile = on(1, "vpn", datetime!(2026-11-24 09:00 UTC), None, 5);
        hostile.0.title = crate::text::Title::parse("title", "<img src=x onerror=alert(1)>").unwrap();
        let digest = render_digest(&input(&[hostile])).unwrap();
        assert!(digest.rendered.html.contains(&format!("src=\"cid:{DIGEST_CHART_CID}\"")), "{}", digest.rendered.html);
        assert!(digest.rendered.html.contains("&#60;img src=x onerror=alert(1)&#62;"), "{}", digest.rendered.html);
        assert!(!digest.rendered.html.contains("<img src=x"), "{}", digest.rendered.html);
        assert_eq!(&digest.chart_png[..4], b"\x89PNG");
    }

    #[test]
    fn the_digest_defines_each_measure() {
        let digest = render_digest(&input(&[])).unwrap();
        assert!(digest.rendered.text.contains(MTTR_DEFINITION), "{}", digest.rendered.text);
        assert_eq!(
            digest.rendered.subject.as_str(),
            "Flare weekly digest: 2026-11-23 to 2026-11-29 (0 incidents this week; 0 open now)"
        );
    }
}
