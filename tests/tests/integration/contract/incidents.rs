//! Opening, changing and reading incidents: ticket numbers, optimistic concurrency, idempotency, external
//! ids, the timeline, and what a failed write leaves behind.

use std::collections::HashSet;

use flare_core::text::{ExternalId, Message, Title};
use flare_core::{
    Command, DomainError, EventKind, IdempotencyKey, LinkTicket, ReopenIncident, ResolveIncident, Status, StoreError,
    UpdateIncident,
};
use time::Duration;

use crate::support::{Backend, NOW, agent, open};

fn message(text: &str) -> Message {
    Message::parse("message", text).unwrap()
}

fn retitle(ticket: flare_core::TicketNumber, title: &str, expected: Option<u64>) -> Command {
    let mut update = UpdateIncident::new(ticket);
    update.title = Some(Title::parse("title", title).unwrap());
    update.expected_version = expected;
    Command::Update(Box::new(update))
}

fn resolve(ticket: flare_core::TicketNumber) -> Command {
    Command::Resolve(ResolveIncident {
        ticket,
        expected_version: None,
        resolved_at: None,
        message: Some(message("fixed")),
        root_cause: None,
        notify: true,
    })
}

pub async fn twenty_concurrent_opens_get_twenty_distinct_ticket_numbers(b: Backend) {
    let service = b.service();
    let opens = (0..20).map(|i| {
        let service = service.clone();
        tokio::spawn(async move { service.open(open(&format!("outage {i}"), NOW, &["vpn"]), &agent(), None).await })
    });
    let tickets: Vec<_> =
        futures::future::join_all(opens).await.into_iter().map(|r| r.unwrap().unwrap().ticket).collect();
    let distinct: HashSet<_> = tickets.iter().collect();
    assert_eq!(distinct.len(), 20, "duplicate ticket numbers: {tickets:?}");
    for t in &tickets {
        assert!(b.store.get(*t).await.unwrap().is_some(), "{t} was handed out but not stored");
    }
}

pub async fn ticket_numbers_are_never_reused_after_a_failed_create(b: Backend) {
    let service = b.service();
    let mut row = open("from the sheet", NOW, &["mail"]);
    row.source.external_id = Some(ExternalId::parse("external_id", "row-7").unwrap());
    let first = service.open(row.clone(), &agent(), None).await.unwrap().ticket;
    assert!(service.open(row, &agent(), None).await.is_err(), "the same row twice must be refused");
    let next = service.open(open("another", NOW, &["mail"]), &agent(), None).await.unwrap().ticket;
    assert!(next.number() > first.number() + 1, "the failed create's number {} was reused", first.number() + 1);
}

pub async fn an_opened_incident_reads_back_as_committed(b: Backend) {
    let service = b.service();
    let payroll = open("Payroll down", NOW - Duration::hours(1), &["payroll", "vpn"]);
    let committed = service.open(payroll, &agent(), None).await.unwrap();
    let incident = b.store.get(committed.ticket).await.unwrap().unwrap();
    assert_eq!(incident.ticket, committed.ticket);
    assert_eq!(incident.version, 1);
    assert_eq!(incident.title.as_str(), "Payroll down");
    assert_eq!(incident.status, Status::Investigating);
    assert_eq!(incident.started_at, NOW - Duration::hours(1));
    assert_eq!(incident.systems.len(), 2);
    assert_eq!(incident.reporter.as_str(), "contract-test");
}

pub async fn of_two_concurrent_updates_from_one_version_exactly_one_wins(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("Wi-Fi flaky", NOW, &["wifi"]), &agent(), None).await.unwrap().ticket;
    let current = b.store.get(ticket).await.unwrap().unwrap();
    let (a, ea) = retitle(ticket, "Wi-Fi down on floor 2", Some(1)).apply(&current, &agent(), NOW).unwrap();
    let (c, ec) = retitle(ticket, "Wi-Fi down on floor 3", Some(1)).apply(&current, &agent(), NOW).unwrap();
    let (ra, rc) = tokio::join!(b.store.save(&a, &ea, None), b.store.save(&c, &ec, None));
    let wins = [&ra, &rc].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one update must win: {ra:?} {rc:?}");
    let loser = if ra.is_err() { ra } else { rc };
    assert!(matches!(loser, Err(StoreError::Conflict { current: 2, .. })), "{loser:?}");
    assert_eq!(b.store.timeline(ticket).await.unwrap().len(), 2, "the loser's event must not be stored");
}

pub async fn an_update_from_a_stale_version_is_refused_naming_the_current_version(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("Printers", NOW, &["print"]), &agent(), None).await.unwrap().ticket;
    service.execute(retitle(ticket, "Printers offline", Some(1)), &agent(), None).await.unwrap();
    let err = service.execute(retitle(ticket, "Printers slow", Some(1)), &agent(), None).await.unwrap_err();
    assert!(matches!(err, DomainError::Conflict { current: 2, .. }), "{err:?}");
    assert_eq!(b.store.get(ticket).await.unwrap().unwrap().title.as_str(), "Printers offline");
}

pub async fn an_update_without_a_version_is_merged_after_a_concurrent_change(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("SSO", NOW, &["sso"]), &agent(), None).await.unwrap().ticket;
    let updates = (0..5).map(|i| {
        let service = service.clone();
        tokio::spawn(async move {
            let note = Command::Note(flare_core::AddNote {
                ticket,
                expected_version: None,
                message: message(&format!("note {i}")),
            });
            service.execute(note, &agent(), None).await
        })
    });
    for r in futures::future::join_all(updates).await {
        r.unwrap().unwrap();
    }
    assert_eq!(b.store.get(ticket).await.unwrap().unwrap().version, 6);
    assert_eq!(b.store.timeline(ticket).await.unwrap().len(), 6);
}

pub async fn the_same_idempotency_key_twice_opens_one_incident_with_the_same_answer(b: Backend) {
    let service = b.service();
    let first = service.open(open("CRM", NOW, &["crm"]), &agent(), Some("form-4f2a")).await.unwrap();
    let again = service.open(open("CRM", NOW, &["crm"]), &agent(), Some("form-4f2a")).await.unwrap();
    assert_eq!((again.ticket, again.version), (first.ticket, first.version));
    assert!(!first.replayed && again.replayed);
    assert_eq!(b.store.list_open().await.unwrap().len(), 1);
}

pub async fn the_same_idempotency_key_sent_concurrently_opens_one_incident(b: Backend) {
    let service = b.service();
    let clicks = (0..5).map(|_| {
        let service = service.clone();
        tokio::spawn(async move { service.open(open("Double click", NOW, &["crm"]), &agent(), Some("click")).await })
    });
    let answers: Vec<_> = futures::future::join_all(clicks).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(answers.iter().all(|a| a.ticket == answers[0].ticket), "{answers:?}");
    assert_eq!(b.store.list_open().await.unwrap().len(), 1);
}

pub async fn an_idempotency_key_reused_for_another_request_is_refused(b: Backend) {
    let service = b.service();
    service.open(open("CRM", NOW, &["crm"]), &agent(), Some("k1")).await.unwrap();
    let err = service.open(open("ERP", NOW, &["erp"]), &agent(), Some("k1")).await.unwrap_err();
    assert!(matches!(err, DomainError::IdempotencyMismatch), "{err:?}");
    assert_eq!(b.store.list_open().await.unwrap().len(), 1);
}

pub async fn an_expired_idempotency_key_is_forgotten(b: Backend) {
    let service = b.service();
    let first = service.open(open("CRM", NOW, &["crm"]), &agent(), Some("k2")).await.unwrap();
    b.clock.set(NOW + Duration::days(2));
    let second = service.open(open("CRM", NOW, &["crm"]), &agent(), Some("k2")).await.unwrap();
    assert_ne!(first.ticket, second.ticket);
    assert!(!second.replayed);
}

pub async fn an_idempotent_update_is_applied_once(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("Proxy", NOW, &["proxy"]), &agent(), None).await.unwrap().ticket;
    let first = service.execute(retitle(ticket, "Proxy down", None), &agent(), Some("u1")).await.unwrap();
    let again = service.execute(retitle(ticket, "Proxy down", None), &agent(), Some("u1")).await.unwrap();
    assert_eq!((first.version, again.version), (2, 2));
    assert!(again.replayed);
    assert_eq!(b.store.timeline(ticket).await.unwrap().len(), 2);
}

pub async fn updating_an_unknown_ticket_is_not_found(b: Backend) {
    let unknown = flare_core::TicketNumber::from_number(999_999).unwrap();
    let err = b.service().execute(retitle(unknown, "ghost", None), &agent(), None).await.unwrap_err();
    assert!(matches!(err, DomainError::NotFound(t) if t == unknown), "{err:?}");
}

pub async fn resolving_a_resolved_incident_is_an_invalid_transition(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("DNS", NOW - Duration::hours(2), &["dns"]), &agent(), None).await.unwrap().ticket;
    service.execute(resolve(ticket), &agent(), None).await.unwrap();
    let err = service.execute(resolve(ticket), &agent(), None).await.unwrap_err();
    assert!(matches!(err, DomainError::InvalidTransition { status: Status::Resolved, .. }), "{err:?}");
    assert_eq!(b.store.get(ticket).await.unwrap().unwrap().version, 2);
}

pub async fn find_by_external_id_returns_the_incident_opened_from_that_row(b: Backend) {
    let service = b.service();
    let mut row = open("From the sheet", NOW, &["mail"]);
    row.source.channel = flare_core::Channel::Sheet;
    row.source.external_id = Some(ExternalId::parse("external_id", "responses!A42").unwrap());
    let ticket = service.open(row.clone(), &agent(), None).await.unwrap().ticket;
    let found = b.store.find_by_external_id(&row.source).await.unwrap().unwrap();
    assert_eq!(found.ticket, ticket);
    let mut other = row.source.clone();
    other.external_id = Some(ExternalId::parse("external_id", "responses!A43").unwrap());
    assert!(b.store.find_by_external_id(&other).await.unwrap().is_none());
}

pub async fn a_second_incident_from_the_same_row_is_refused_and_writes_nothing(b: Backend) {
    let service = b.service();
    let mut row = open("From the sheet", NOW, &["mail"]);
    row.source.external_id = Some(ExternalId::parse("external_id", "row-9").unwrap());
    service.open(row.clone(), &agent(), None).await.unwrap();
    let err = service.open(row, &agent(), Some("retry-9")).await.unwrap_err();
    assert!(matches!(err, DomainError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(b.store.list_open().await.unwrap().len(), 1);
    assert!(b.store.idempotency(&format!("{}:retry-9", agent()), NOW).await.unwrap().is_none());
}

pub async fn the_timeline_lists_every_change_oldest_first_with_who_and_what(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("VPN", NOW - Duration::hours(3), &["vpn"]), &agent(), None).await.unwrap().ticket;
    let mut update = UpdateIncident::new(ticket);
    update.status = Some(Status::Identified);
    update.message = Some(message("certificate expired"));
    service.execute(Command::Update(Box::new(update)), &agent(), None).await.unwrap();
    service.execute(resolve(ticket), &agent(), None).await.unwrap();
    let timeline = b.store.timeline(ticket).await.unwrap();
    let kinds: Vec<_> = timeline.iter().map(|e| (e.seq, e.kind.as_str())).collect();
    assert_eq!(kinds, vec![(1, "opened"), (2, "updated"), (3, "resolved")]);
    let status = timeline[1].changes.iter().find(|c| c.field == "status").unwrap();
    assert_eq!((status.from.as_str(), status.to.as_str()), (Some("investigating"), Some("identified")));
    assert_eq!(timeline[1].message.as_ref().unwrap().as_str(), "certificate expired");
    assert!(timeline.iter().all(|e| e.actor == agent() && e.ticket == ticket));
}

pub async fn a_failed_save_leaves_the_incident_its_timeline_and_the_key_untouched(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("LDAP", NOW, &["ldap"]), &agent(), None).await.unwrap().ticket;
    let before = b.store.get(ticket).await.unwrap().unwrap();
    let (next, event) = retitle(ticket, "LDAP down", None).apply(&before, &agent(), NOW).unwrap();
    service.execute(retitle(ticket, "LDAP slow", None), &agent(), None).await.unwrap();
    let record = IdempotencyKey {
        key: "stale-write".into(),
        fingerprint: "f".into(),
        ticket,
        version: next.version,
        expires_at: NOW + Duration::hours(1),
    };
    let err = b.store.save(&next, &event, Some(&record)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { current: 2, .. }), "{err:?}");
    assert_eq!(b.store.get(ticket).await.unwrap().unwrap().title.as_str(), "LDAP slow");
    assert_eq!(b.store.timeline(ticket).await.unwrap().len(), 2);
    assert!(b.store.idempotency("stale-write", NOW).await.unwrap().is_none());
}

pub async fn resolved_incidents_leave_the_open_list_and_reopened_ones_return(b: Backend) {
    let service = b.service();
    let older = service.open(open("Older", NOW - Duration::hours(5), &["a"]), &agent(), None).await.unwrap().ticket;
    let newer = service.open(open("Newer", NOW - Duration::hours(1), &["b"]), &agent(), None).await.unwrap().ticket;
    let open_tickets = |v: Vec<flare_core::Incident>| v.into_iter().map(|i| i.ticket).collect::<Vec<_>>();
    assert_eq!(open_tickets(b.store.list_open().await.unwrap()), vec![newer, older], "newest start first");
    service.execute(resolve(older), &agent(), None).await.unwrap();
    assert_eq!(open_tickets(b.store.list_open().await.unwrap()), vec![newer]);
    let reopen = ReopenIncident { ticket: older, expected_version: Some(2), message: None, notify: true };
    service.execute(Command::Reopen(reopen), &agent(), None).await.unwrap();
    assert_eq!(open_tickets(b.store.list_open().await.unwrap()), vec![newer, older]);
}

pub async fn one_event_reads_back_with_the_incident_as_that_event_left_it(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("VPN", NOW - Duration::hours(3), &["vpn"]), &agent(), None).await.unwrap().ticket;
    let opened = b.store.get(ticket).await.unwrap().unwrap();
    service.execute(resolve(ticket), &agent(), None).await.unwrap();
    let first = b.store.event(ticket, 1).await.unwrap().unwrap();
    assert_eq!(first.event, b.store.timeline(ticket).await.unwrap()[0]);
    assert_eq!(first.incident, Some(opened), "the state at version 1, not the resolved one");
    let second = b.store.event(ticket, 2).await.unwrap().unwrap();
    assert_eq!(second.incident.map(|i| i.status), Some(Status::Resolved));
}

pub async fn an_event_that_is_not_there_is_none(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("VPN", NOW, &["vpn"]), &agent(), None).await.unwrap().ticket;
    assert!(b.store.event(ticket, 2).await.unwrap().is_none(), "no second event yet");
    let unknown = flare_core::TicketNumber::from_number(ticket.number() + 1_000_000).unwrap();
    assert!(b.store.event(unknown, 1).await.unwrap().is_none(), "no such incident");
}

pub async fn a_linked_ticket_is_an_event_of_its_own_kind(b: Backend) {
    let service = b.service();
    let ticket = service.open(open("VPN", NOW, &["vpn"]), &agent(), None).await.unwrap().ticket;
    let external = flare_core::test_util::external("jira", "OPS-7");
    let link = Command::LinkTicket(LinkTicket { ticket, external: external.clone() });
    service.execute(link.clone(), &agent(), None).await.unwrap();
    let linked = b.store.event(ticket, 2).await.unwrap().unwrap();
    assert_eq!(linked.event.kind, EventKind::TicketLinked);
    assert_eq!(b.store.get(ticket).await.unwrap().unwrap().external, Some(external));
    assert!(matches!(service.execute(link, &agent(), None).await, Err(DomainError::NoChange)), "linking twice");
}
