//! Dashboard windows: an incident is in `[from, to)` when it started before `to` and was open at, or ended
//! after, `from`. Each case seeds its own incidents and checks one rule.

use flare_core::{
    Command, ReopenIncident, ResolveIncident, Severity, Status, TicketNumber, UpdateIncident, Window, WindowQuery,
};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{Backend, agent, open, system};

const FROM: OffsetDateTime = datetime!(2026-11-15 00:00 UTC);
const TO: OffsetDateTime = datetime!(2026-11-22 00:00 UTC);

/// Opens an incident that started at `start`, affecting `systems`, and resolves it at `end` if given.
async fn seed(b: &Backend, start: OffsetDateTime, end: Option<OffsetDateTime>, systems: &[&str]) -> TicketNumber {
    let service = b.service();
    let ticket = service.open(open("seeded", start, systems), &agent(), None).await.unwrap().ticket;
    if let Some(end) = end {
        resolve_at(b, ticket, end).await;
    }
    ticket
}

async fn resolve_at(b: &Backend, ticket: TicketNumber, end: OffsetDateTime) {
    let resolve = ResolveIncident {
        ticket,
        expected_version: None,
        resolved_at: Some(end),
        message: None,
        root_cause: None,
        notify: false,
    };
    b.service().execute(Command::Resolve(resolve), &agent(), None).await.unwrap();
}

/// Every ticket in the window, walking all pages.
async fn tickets_in(b: &Backend, query: WindowQuery) -> Vec<TicketNumber> {
    let mut query = query;
    let mut tickets = Vec::new();
    loop {
        let page = b.store.list_window(&query).await.unwrap();
        tickets.extend(page.items.iter().map(|i| i.ticket));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return tickets,
        }
    }
}

async fn window(b: &Backend, from: OffsetDateTime, to: OffsetDateTime) -> Vec<TicketNumber> {
    tickets_in(b, WindowQuery::new(Window::new(from, to).unwrap())).await
}

pub async fn a_window_holds_an_incident_inside_it(b: Backend) {
    let inside = seed(&b, datetime!(2026-11-17 10:00 UTC), Some(datetime!(2026-11-17 14:00 UTC)), &["vpn"]).await;
    let open_inside = seed(&b, datetime!(2026-11-20 09:00 UTC), None, &["vpn"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![open_inside, inside]);
}

pub async fn a_window_holds_an_incident_spanning_it(b: Backend) {
    let spanning = seed(&b, datetime!(2026-11-10 08:00 UTC), Some(datetime!(2026-11-22 06:00 UTC)), &["mail"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![spanning]);
}

pub async fn a_window_holds_an_incident_open_since_months_before(b: Backend) {
    let long = seed(&b, datetime!(2026-05-02 08:00 UTC), None, &["erp"]).await;
    let long_resolved =
        seed(&b, datetime!(2026-03-01 08:00 UTC), Some(datetime!(2026-11-16 08:00 UTC)), &["erp"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![long, long_resolved]);
}

pub async fn a_window_leaves_out_an_incident_resolved_before_it(b: Backend) {
    seed(&b, datetime!(2026-11-12 08:00 UTC), Some(datetime!(2026-11-14 23:59 UTC)), &["crm"]).await;
    seed(&b, datetime!(2026-01-12 08:00 UTC), Some(datetime!(2026-11-14 12:00 UTC)), &["crm"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![]);
}

pub async fn a_window_leaves_out_an_incident_starting_after_it(b: Backend) {
    seed(&b, datetime!(2026-11-22 08:00 UTC), None, &["crm"]).await;
    seed(&b, datetime!(2026-11-22 09:00 UTC), Some(datetime!(2026-11-22 10:00 UTC)), &["crm"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![]);
}

pub async fn a_window_is_half_open_at_both_boundaries(b: Backend) {
    let starts_at_from = seed(&b, FROM, Some(datetime!(2026-11-15 01:00 UTC)), &["a"]).await;
    let _ends_at_from = seed(&b, datetime!(2026-11-14 20:00 UTC), Some(FROM), &["a"]).await;
    let ends_just_after =
        seed(&b, datetime!(2026-11-13 00:00 UTC), Some(datetime!(2026-11-15 00:00:00.000001 UTC)), &["a"]).await;
    let _starts_at_to = seed(&b, TO, None, &["a"]).await;
    let starts_just_before_to = seed(&b, datetime!(2026-11-21 23:59:59.999999 UTC), None, &["a"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![starts_just_before_to, starts_at_from, ends_just_after]);
}

pub async fn a_window_starting_mid_day_holds_what_was_still_open_at_that_moment(b: Backend) {
    let from = datetime!(2026-11-15 12:00 UTC);
    let to = datetime!(2026-11-22 12:00 UTC);
    let days_before_still_open =
        seed(&b, datetime!(2026-11-12 08:00 UTC), Some(datetime!(2026-11-15 13:00 UTC)), &["a"]).await;
    let _days_before_ended_that_morning =
        seed(&b, datetime!(2026-11-12 09:00 UTC), Some(datetime!(2026-11-15 11:00 UTC)), &["a"]).await;
    let same_morning_still_open =
        seed(&b, datetime!(2026-11-15 06:00 UTC), Some(datetime!(2026-11-15 12:30 UTC)), &["a"]).await;
    let _same_morning_ended =
        seed(&b, datetime!(2026-11-15 06:30 UTC), Some(datetime!(2026-11-15 07:00 UTC)), &["a"]).await;
    assert_eq!(window(&b, from, to).await, vec![same_morning_still_open, days_before_still_open]);
}

pub async fn a_window_follows_an_incident_whose_times_are_corrected(b: Backend) {
    let ticket = seed(&b, datetime!(2026-11-16 09:00 UTC), Some(datetime!(2026-11-16 10:00 UTC)), &["a"]).await;
    let day_before = (datetime!(2026-11-15 00:00 UTC), datetime!(2026-11-16 00:00 UTC));
    assert_eq!(window(&b, day_before.0, day_before.1).await, vec![]);
    let mut correction = UpdateIncident::new(ticket);
    correction.started_at = Some(datetime!(2026-11-14 09:00 UTC));
    b.service().execute(Command::Update(Box::new(correction)), &agent(), None).await.unwrap();
    assert_eq!(window(&b, day_before.0, day_before.1).await, vec![ticket]);
    assert_eq!(window(&b, datetime!(2026-11-16 00:00 UTC), datetime!(2026-11-17 00:00 UTC)).await, vec![ticket]);
}

pub async fn a_reopened_incident_is_in_every_window_since_it_started(b: Backend) {
    let ticket = seed(&b, datetime!(2026-11-01 09:00 UTC), Some(datetime!(2026-11-03 09:00 UTC)), &["a"]).await;
    assert_eq!(window(&b, FROM, TO).await, vec![]);
    let reopen = ReopenIncident { ticket, expected_version: None, message: None, notify: false };
    b.service().execute(Command::Reopen(reopen), &agent(), None).await.unwrap();
    assert_eq!(window(&b, FROM, TO).await, vec![ticket], "open again, so in today's window");
    resolve_at(&b, ticket, datetime!(2026-11-22 11:00 UTC)).await;
    assert_eq!(window(&b, FROM, TO).await, vec![ticket], "resolved after the window ended");
    assert_eq!(window(&b, datetime!(2026-11-05 00:00 UTC), datetime!(2026-11-06 00:00 UTC)).await, vec![ticket]);
}

pub async fn filters_narrow_a_window_by_status_severity_and_system(b: Backend) {
    let service = b.service();
    let mut sev1 = open("sev1 vpn", datetime!(2026-11-16 09:00 UTC), &["vpn"]);
    sev1.severity = Severity::Sev1;
    let a = service.open(sev1, &agent(), None).await.unwrap().ticket;
    let m = seed(&b, datetime!(2026-11-17 09:00 UTC), None, &["mail"]).await;
    let mut identify = UpdateIncident::new(m);
    identify.status = Some(Status::Identified);
    service.execute(Command::Update(Box::new(identify)), &agent(), None).await.unwrap();
    let c = seed(&b, datetime!(2026-11-18 09:00 UTC), Some(datetime!(2026-11-18 10:00 UTC)), &["mail", "vpn"]).await;
    let base = WindowQuery::new(Window::new(FROM, TO).unwrap());

    let by_status = WindowQuery { status: Some(Status::Resolved), ..base.clone() };
    assert_eq!(tickets_in(&b, by_status).await, vec![c]);
    let by_severity = WindowQuery { severity: Some(Severity::Sev2), ..base.clone() };
    assert_eq!(tickets_in(&b, by_severity).await, vec![c, m]);
    let by_system = WindowQuery { system: Some(system("vpn")), ..base.clone() };
    assert_eq!(tickets_in(&b, by_system).await, vec![c, a]);
    let combined = WindowQuery { severity: Some(Severity::Sev2), system: Some(system("vpn")), ..base };
    assert_eq!(tickets_in(&b, combined).await, vec![c]);
}

pub async fn pages_walk_a_window_once_even_when_incidents_arrive_between_pages(b: Backend) {
    let mut seeded = Vec::new();
    for i in 0..12i64 {
        // Two incidents share each start time, so the ticket tie-break is exercised.
        let start = datetime!(2026-11-15 06:00 UTC) + time::Duration::hours(9 * (i / 2));
        seeded.push(seed(&b, start, None, &["a"]).await);
    }
    let mut query = WindowQuery::new(Window::new(FROM, TO).unwrap());
    query.limit = 5;
    let mut walked = Vec::new();
    let mut late = Vec::new();
    loop {
        let page = b.store.list_window(&query).await.unwrap();
        assert!(page.items.len() <= 5);
        walked.extend(page.items.iter().map(|i| i.ticket));
        // Arrivals newer than anything served belong to pages already read, so must not appear later.
        late.push(seed(&b, datetime!(2026-11-21 23:00 UTC), None, &["a"]).await);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    let mut expected = seeded.clone();
    expected.sort_by_key(|t| std::cmp::Reverse((seeded.iter().position(|s| s == t).unwrap() / 2, t.number())));
    assert_eq!(walked, expected, "every seeded incident once, newest start first, ties by ticket");
    assert!(late.iter().all(|t| !walked.contains(t)));
}

pub async fn pages_walk_incidents_from_before_and_inside_a_window_across_a_month_boundary(b: Backend) {
    let (from, to) = (datetime!(2026-10-29 12:00 UTC), datetime!(2026-11-05 00:00 UTC));
    // Newest start first, which is the order the pages must give.
    let expected = vec![
        seed(&b, datetime!(2026-11-03 09:00 UTC), None, &["a"]).await,
        seed(&b, datetime!(2026-11-01 00:30 UTC), Some(datetime!(2026-11-02 00:00 UTC)), &["a"]).await,
        seed(&b, datetime!(2026-10-31 23:00 UTC), Some(datetime!(2026-11-01 01:00 UTC)), &["a"]).await,
        seed(&b, datetime!(2026-10-29 13:00 UTC), Some(datetime!(2026-10-29 14:00 UTC)), &["a"]).await,
        // Started the same morning as the window, still open at its start.
        seed(&b, datetime!(2026-10-29 06:00 UTC), Some(datetime!(2026-10-29 18:00 UTC)), &["a"]).await,
        // Started days before, resolved inside the window.
        seed(&b, datetime!(2026-10-20 06:00 UTC), Some(datetime!(2026-10-30 06:00 UTC)), &["a"]).await,
        // Open since the month before.
        seed(&b, datetime!(2026-10-01 08:00 UTC), None, &["a"]).await,
        // Resolved long after the window, started long before it.
        seed(&b, datetime!(2026-08-15 08:00 UTC), Some(datetime!(2026-11-20 08:00 UTC)), &["a"]).await,
    ];
    seed(&b, datetime!(2026-10-29 06:30 UTC), Some(datetime!(2026-10-29 11:00 UTC)), &["a"]).await;
    seed(&b, datetime!(2026-11-05 00:00 UTC), None, &["a"]).await;
    let mut query = WindowQuery::new(Window::new(from, to).unwrap());
    query.limit = 2;
    let mut pages = 0;
    let mut walked = Vec::new();
    loop {
        let page = b.store.list_window(&query).await.unwrap();
        assert!(page.items.len() <= 2);
        walked.extend(page.items.iter().map(|i| i.ticket));
        pages += 1;
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(walked, expected);
    assert!(pages >= 4, "{pages} pages of at most 2");
}
