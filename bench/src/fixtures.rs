//! The benchmark's data. The probe week is fixed; the planted incidents around it are the same in every table,
//! written through the incident service (so the store's own create and save paths maintain every index);
//! the background incidents are spread over the two years before the week and all end before it starts, so
//! they change the table's size and never the week's contents.

use std::sync::Arc;

use anyhow::Context;
use flare_aws::DynamoStore;
use flare_core::text::{Description, PersonName, Title};
use flare_core::{
    Actor, AffectedSystem, Channel, Clock, Command, Impact, Incident, IncidentService, IncidentStore, OpenIncident,
    ResolveIncident, Severity, Source, Status, SystemId, TicketNumber,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The probe week: Monday to Monday, UTC.
pub const PROBE_FROM: OffsetDateTime = datetime!(2026-03-02 00:00 UTC);
pub const PROBE_TO: OffsetDateTime = datetime!(2026-03-09 00:00 UTC);
/// The benchmark's "now", after the probe week, so that every planted time lies in the past.
pub const NOW: OffsetDateTime = datetime!(2026-04-01 00:00 UTC);
/// Background tickets start here, above the planted ones, so the planted tickets are the same in every table.
pub const BACKGROUND_FIRST_TICKET: u64 = 1_000;

const SYSTEMS: &[&str] = &["vpn", "mail", "erp", "payroll", "wifi", "printing", "crm", "sso"];

/// A planted incident: when it started and ended, relative to the probe week.
#[derive(Debug, Clone, Copy)]
pub struct Planted {
    pub label: &'static str,
    pub started_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
}

/// About 25 incidents at the edges and inside of the probe week; some belong to it and some must not.
pub fn planted() -> Vec<Planted> {
    let (from, to) = (PROBE_FROM, PROBE_TO);
    let (h, d) = (Duration::hours(1), Duration::days(1));
    let p = |label, started_at, resolved_at| Planted { label, started_at, resolved_at };
    vec![
        // Inside the week.
        p("starts at the window's first instant", from, Some(from + 2 * h)),
        p("inside, Monday", from + 9 * h, Some(from + 11 * h)),
        p("inside, Tuesday", from + d + 14 * h, Some(from + d + 15 * h)),
        p("inside, Wednesday overnight", from + 2 * d + 22 * h, Some(from + 3 * d + 3 * h)),
        p("inside, Thursday", from + 3 * d + 8 * h, Some(from + 3 * d + 8 * h + Duration::minutes(20))),
        p("inside, Saturday", from + 5 * d + 2 * h, Some(from + 5 * d + 4 * h)),
        p("inside, last minute", to - Duration::minutes(1), Some(to + h)),
        p("opened mid-week, still open", from + 4 * d + 10 * h, None),
        p("opened on Sunday, still open", from + 6 * d + 7 * h, None),
        // Spanning the week's start or all of it.
        p("spans the whole week", from - 3 * d, Some(to + 2 * d)),
        p("spans the whole week, long", from - 300 * d, Some(to + 10 * d)),
        p("started the day before, ends Monday", from - 10 * h, Some(from + 5 * h)),
        p("started ten days before, ends Tuesday", from - 10 * d, Some(from + d + 6 * h)),
        p("started a year before, ends Wednesday", from - 365 * d, Some(from + 2 * d)),
        p("ends a microsecond into the week", from - 2 * h, Some(from + Duration::microseconds(1))),
        // Open since long before.
        p("open since three months", from - 90 * d, None),
        p("open since seven months", from - 200 * d, None),
        p("open since over a year", from - 400 * d, None),
        // Must not appear: ended before the week.
        p("ends exactly at the window's start", from - 2 * h, Some(from)),
        p("ends a minute before", from - d, Some(from - Duration::minutes(1))),
        p("ends an hour before", from - 5 * d, Some(from - h)),
        p("ends a month before", from - 60 * d, Some(from - 30 * d)),
        // Must not appear: starts after the week.
        p("starts at the window's end", to, Some(to + h)),
        p("starts a minute after", to + Duration::minutes(1), None),
        p("starts a day after", to + d, Some(to + d + 3 * h)),
    ]
}

/// A clock stopped at [`NOW`].
#[derive(Debug, Clone, Copy)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        NOW
    }
}

fn system(id: &str) -> anyhow::Result<SystemId> {
    Ok(SystemId::parse("system", id)?)
}

/// Opens (and resolves, where planned) every planted incident through the incident service, in order, so
/// that they get the same ticket numbers in every table. Returns them as stored.
pub async fn plant(store: &DynamoStore) -> anyhow::Result<Vec<Incident>> {
    let service = IncidentService::new(Arc::new(store.clone()), Arc::new(FixedClock));
    let actor = Actor::system("bench");
    let mut stored = Vec::new();
    for (n, plan) in planted().into_iter().enumerate() {
        let open = OpenIncident {
            title: Title::parse("title", &format!("Planted: {}", plan.label))?,
            description: Description::parse("description", "Planted by the window-cost benchmark.")?,
            severity: [Severity::Sev1, Severity::Sev2, Severity::Sev3][n % 3],
            systems: vec![AffectedSystem { system: system(SYSTEMS[n % SYSTEMS.len()])?, impact: Impact::Degraded }],
            engineer: None,
            engineer_email: None,
            notify_emails: Vec::new(),
            started_at: Some(plan.started_at),
            detected_at: None,
            source: Source::new(Channel::Cli),
            notify: false,
        };
        let opened = service.open(open, &actor, None).await.with_context(|| format!("open {:?}", plan.label))?;
        if let Some(resolved_at) = plan.resolved_at {
            let resolve = ResolveIncident {
                ticket: opened.ticket,
                expected_version: Some(opened.version),
                resolved_at: Some(resolved_at),
                message: None,
                root_cause: None,
                notify: false,
            };
            service
                .execute(Command::Resolve(resolve), &actor, None)
                .await
                .with_context(|| format!("resolve {:?}", plan.label))?;
        }
        let incident = store.get(opened.ticket).await?.context("a planted incident vanished")?;
        stored.push(incident);
    }
    Ok(stored)
}

/// `count` resolved incidents that started in the two years before the probe week and ended before it, most
/// within hours, some over days or weeks. Deterministic for a seed.
pub fn background(count: u64, seed: u64) -> impl Iterator<Item = anyhow::Result<Incident>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let earliest = PROBE_FROM - Duration::days(730);
    let span_minutes = (Duration::days(728)).whole_minutes();
    (0..count).map(move |n| {
        let started_at = earliest + Duration::minutes(rng.random_range(0..span_minutes));
        let length = match rng.random_range(0..100) {
            0..70 => Duration::minutes(rng.random_range(5..8 * 60)),
            70..95 => Duration::minutes(rng.random_range(8 * 60..3 * 24 * 60)),
            _ => Duration::minutes(rng.random_range(3 * 24 * 60..30 * 24 * 60)),
        };
        let resolved_at = (started_at + length).min(PROBE_FROM - Duration::hours(1));
        let ticket = TicketNumber::from_number(BACKGROUND_FIRST_TICKET + n).context("ticket 0")?;
        let system = system(SYSTEMS[rng.random_range(0..SYSTEMS.len())])?;
        Ok(Incident {
            ticket,
            title: Title::parse("title", &format!("Background incident {n}"))?,
            description: Description::parse("description", "Generated by the window-cost benchmark.")?,
            severity: [Severity::Sev1, Severity::Sev2, Severity::Sev3, Severity::Sev4][rng.random_range(0..4)],
            status: Status::Resolved,
            systems: vec![AffectedSystem { system, impact: Impact::PartialOutage }],
            engineer: Some(PersonName::parse("engineer", "Grace Hopper")?),
            engineer_email: None,
            notify_emails: Vec::new(),
            reporter: PersonName::parse("reporter", "bench")?,
            started_at,
            detected_at: None,
            resolved_at: Some(resolved_at),
            external: None,
            source: Source::new(Channel::Cli),
            root_cause: None,
            follow_ups: Vec::new(),
            version: 2,
            created_at: started_at,
            updated_at: resolved_at,
        })
    })
}
