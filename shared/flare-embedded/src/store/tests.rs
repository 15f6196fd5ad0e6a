//! Round trips through a real SQLite file. The cross-adapter behaviour is the contract suite's job (the `tests`
//! crate); these cover what is particular to this adapter: the schema, transactions and query plans.

use std::collections::HashSet;
use std::sync::Arc;

use flare_core::text::{Description, ExternalId, PersonName, SystemName, Title};
use flare_core::{
    AccessStore, Actor, AffectedSystem, ApiKey, CatalogStore, Channel, EmailAddress, IdempotencyKey, Impact, Incident,
    IncidentStore, NewIncident, Scope, Severity, Source, Status, StoreError, Subscriber, System, SystemId,
    TicketNumber, TimelineEvent, User, Username, Window, WindowQuery,
};
use flare_core::{Command, OpenIncident, ResolveIncident, UpdateIncident};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{QueuedEvent, SqliteStore, window};
use crate::SchemaTooNew;
use crate::migrations::latest;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

fn store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("flare.db")).unwrap();
    (dir, store)
}

fn actor() -> Actor {
    Actor::system("tests")
}

fn system(id: &str) -> SystemId {
    SystemId::parse("system", id).unwrap()
}

fn command(title: &str, started_at: OffsetDateTime, systems: &[&str], source: Source) -> OpenIncident {
    OpenIncident {
        title: Title::parse("title", title).unwrap(),
        description: Description::parse("description", "Something is broken.").unwrap(),
        severity: Severity::Sev2,
        systems: systems.iter().map(|s| AffectedSystem { system: system(s), impact: Impact::Degraded }).collect(),
        engineer: None,
        engineer_email: None,
        notify_emails: Vec::new(),
        started_at: Some(started_at),
        detected_at: None,
        source,
        notify: true,
    }
}

fn sheet_row(id: &str) -> Source {
    Source { channel: Channel::Sheet, external_id: Some(ExternalId::parse("external_id", id).unwrap()) }
}

fn key(name: &str, ticket: TicketNumber, version: u64, expires_at: OffsetDateTime) -> IdempotencyKey {
    IdempotencyKey { key: name.into(), fingerprint: "f".into(), ticket, version, expires_at }
}

async fn open_with(store: &SqliteStore, cmd: OpenIncident, key: Option<&str>) -> Incident {
    let ticket = store.next_ticket().await.unwrap();
    let (incident, event) = cmd.apply(ticket, &actor(), NOW).unwrap();
    let record = key.map(|k| self::key(k, ticket, 1, NOW + Duration::hours(24)));
    store.create(NewIncident { incident: &incident, event: &event, idempotency: record.as_ref() }).await.unwrap();
    incident
}

async fn open(store: &SqliteStore, title: &str, started_at: OffsetDateTime) -> Incident {
    open_with(store, command(title, started_at, &["vpn"], Source::new(Channel::Form)), None).await
}

fn next(current: &Incident, command: Command) -> (Incident, TimelineEvent) {
    command.apply(current, &actor(), NOW).unwrap()
}

fn retitle(current: &Incident, title: &str) -> (Incident, TimelineEvent) {
    let mut update = UpdateIncident::new(current.ticket);
    update.title = Some(Title::parse("title", title).unwrap());
    next(current, Command::Update(Box::new(update)))
}

async fn resolve(store: &SqliteStore, current: &Incident, at: OffsetDateTime) -> Incident {
    let command = ResolveIncident {
        ticket: current.ticket,
        expected_version: None,
        resolved_at: Some(at),
        message: None,
        root_cause: None,
        notify: false,
    };
    let (resolved, event) = next(current, Command::Resolve(command));
    store.save(&resolved, &event, None).await.unwrap();
    resolved
}

#[tokio::test]
async fn an_opened_incident_reads_back_with_its_opening_event() {
    let (_dir, store) = store();
    let incident = open(&store, "VPN down", NOW - Duration::hours(1)).await;
    assert_eq!(store.get(incident.ticket).await.unwrap(), Some(incident.clone()));
    let timeline = store.timeline(incident.ticket).await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].seq, 1);
    assert_eq!(store.list_open().await.unwrap(), vec![incident]);
}

#[tokio::test]
async fn concurrent_ticket_requests_get_distinct_growing_numbers() {
    let (_dir, store) = store();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.next_ticket().await.unwrap() })
        })
        .collect();
    let mut numbers = HashSet::new();
    for task in tasks {
        numbers.insert(task.await.unwrap().number());
    }
    assert_eq!(numbers, (1..=20).collect());
    assert_eq!(store.next_ticket().await.unwrap().number(), 21);
}

#[tokio::test]
async fn a_ticket_number_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flare.db");
    let first = SqliteStore::open(&path).unwrap();
    let incident = open(&first, "VPN down", NOW).await;
    drop(first);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.get(incident.ticket).await.unwrap(), Some(incident.clone()));
    assert!(again.next_ticket().await.unwrap() > incident.ticket);
}

#[tokio::test]
async fn a_fresh_file_is_at_the_latest_schema_version() {
    let (dir, store) = store();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("flare.db")).unwrap();
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, latest());
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_file_from_a_newer_flare_is_refused_with_the_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flare.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", latest() + 1).unwrap();
    let StoreError::Unavailable(source) = SqliteStore::open(&path).unwrap_err() else {
        panic!("expected Unavailable");
    };
    let too_new = source.downcast_ref::<SchemaTooNew>().unwrap();
    assert_eq!((too_new.found, too_new.known), (latest() + 1, latest()));
}

#[tokio::test]
async fn a_ticket_whose_create_failed_is_never_handed_out_again() {
    let (_dir, store) = store();
    let first = open_with(&store, command("Row 7", NOW, &["vpn"], sheet_row("r7")), None).await;
    let ticket = store.next_ticket().await.unwrap();
    let (dup, event) = command("Row 7 again", NOW, &["vpn"], sheet_row("r7")).apply(ticket, &actor(), NOW).unwrap();
    let e = store.create(NewIncident { incident: &dup, event: &event, idempotency: None }).await.unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
    assert!(store.next_ticket().await.unwrap() > ticket);
    assert_eq!(store.get(ticket).await.unwrap(), None);
    assert!(store.timeline(ticket).await.unwrap().is_empty());
    assert_eq!(store.find_by_external_id(&sheet_row("r7")).await.unwrap(), Some(first));
}

#[tokio::test]
async fn a_failed_create_leaves_its_idempotency_key_unclaimed() {
    let (_dir, store) = store();
    open_with(&store, command("Row 7", NOW, &["vpn"], sheet_row("r7")), None).await;
    let ticket = store.next_ticket().await.unwrap();
    let (dup, event) = command("Row 7", NOW, &["vpn"], sheet_row("r7")).apply(ticket, &actor(), NOW).unwrap();
    let record = key("k", ticket, 1, NOW + Duration::hours(1));
    let new = NewIncident { incident: &dup, event: &event, idempotency: Some(&record) };
    assert!(matches!(store.create(new).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.idempotency("k", NOW).await.unwrap(), None);
}

#[tokio::test]
async fn a_live_idempotency_key_is_refused_and_an_expired_one_replaced() {
    let (_dir, store) = store();
    let first = open_with(&store, command("A", NOW, &["vpn"], Source::new(Channel::Api)), Some("k")).await;
    assert_eq!(store.idempotency("k", NOW).await.unwrap().map(|r| r.ticket), Some(first.ticket));

    let ticket = store.next_ticket().await.unwrap();
    let (second, event) = command("B", NOW, &["vpn"], Source::new(Channel::Api)).apply(ticket, &actor(), NOW).unwrap();
    let record = key("k", ticket, 1, NOW + Duration::hours(24));
    let new = NewIncident { incident: &second, event: &event, idempotency: Some(&record) };
    assert!(matches!(store.create(new).await, Err(StoreError::IdempotencyKeyTaken)));
    assert_eq!(store.get(ticket).await.unwrap(), None);

    let later = NOW + Duration::hours(25);
    assert_eq!(store.idempotency("k", later).await.unwrap(), None);
    let (second, event) =
        command("B", NOW, &["vpn"], Source::new(Channel::Api)).apply(ticket, &actor(), later).unwrap();
    let record = key("k", ticket, 1, later + Duration::hours(24));
    store.create(NewIncident { incident: &second, event: &event, idempotency: Some(&record) }).await.unwrap();
    assert_eq!(store.idempotency("k", later).await.unwrap(), Some(record));
}

#[tokio::test]
async fn a_save_from_a_stale_version_conflicts_and_writes_nothing() {
    let (_dir, store) = store();
    let v1 = open(&store, "VPN slow", NOW).await;
    let (v2, e2) = retitle(&v1, "VPN down");
    store.save(&v2, &e2, None).await.unwrap();
    let (stale, stale_event) = retitle(&v1, "VPN very slow");
    let record = key("late", v1.ticket, 2, NOW + Duration::hours(1));
    let e = store.save(&stale, &stale_event, Some(&record)).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { ticket, current: 2 } if ticket == v1.ticket), "{e:?}");
    assert_eq!(store.get(v1.ticket).await.unwrap(), Some(v2));
    assert_eq!(store.timeline(v1.ticket).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(store.idempotency("late", NOW).await.unwrap(), None);
}

#[tokio::test]
async fn saving_an_unknown_ticket_is_not_found() {
    let (_dir, store) = store();
    let v1 = open(&store, "VPN slow", NOW).await;
    let mut ghost = v1.clone();
    ghost.ticket = TicketNumber::from_number(99).unwrap();
    let (v2, mut event) = retitle(&ghost, "VPN down");
    event.ticket = ghost.ticket;
    assert!(matches!(store.save(&v2, &event, None).await, Err(StoreError::NotFound(t)) if t == ghost.ticket));
}

#[tokio::test]
async fn a_save_replaces_the_systems_the_filter_sees() {
    let (_dir, store) = store();
    let v1 = open_with(&store, command("Mail", NOW, &["mail", "vpn"], Source::new(Channel::Form)), None).await;
    let mut update = UpdateIncident::new(v1.ticket);
    update.systems = Some(vec![AffectedSystem { system: system("payroll"), impact: Impact::MajorOutage }]);
    let (v2, event) = next(&v1, Command::Update(Box::new(update)));
    store.save(&v2, &event, None).await.unwrap();
    let window = Window::new(NOW - Duration::days(1), NOW + Duration::days(1)).unwrap();
    for (id, expected) in [("vpn", 0), ("mail", 0), ("payroll", 1)] {
        let query = WindowQuery { system: Some(system(id)), ..WindowQuery::new(window) };
        assert_eq!(store.list_window(&query).await.unwrap().items.len(), expected, "{id}");
    }
}

/// A deterministic spread of incidents: starts over 40 days, some resolved after up to 10 days, some open.
async fn history(store: &SqliteStore) -> Vec<Incident> {
    let base = NOW - Duration::days(40);
    let mut seed: u64 = 42;
    let mut roll = |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut all = Vec::new();
    for i in 0..80 {
        // Every fifth incident shares its start with the one before, to exercise the ticket tie-break.
        let start = base + Duration::minutes(i64::try_from(roll(40 * 24 * 60)).unwrap());
        let start = if i % 5 == 4 { all.last().map_or(start, |p: &Incident| p.started_at) } else { start };
        let systems: &[&str] = match roll(3) {
            0 => &["vpn"],
            1 => &["mail"],
            _ => &["vpn", "mail"],
        };
        let mut cmd = command(&format!("Incident {i}"), start, systems, Source::new(Channel::Api));
        cmd.severity = Severity::ALL[usize::try_from(roll(4)).unwrap()];
        let incident = open_with(store, cmd, None).await;
        let incident = match roll(3) {
            0 => incident,
            _ => {
                let end = (start + Duration::minutes(i64::try_from(roll(10 * 24 * 60)).unwrap())).min(NOW);
                resolve(store, &incident, end).await
            }
        };
        all.push(incident);
    }
    all
}

#[tokio::test]
async fn every_window_page_matches_the_domain_definition() {
    let (_dir, store) = store();
    let all = history(&store).await;
    let windows = [
        (NOW - Duration::days(7), NOW),
        (NOW - Duration::days(30), NOW - Duration::days(20)),
        (NOW - Duration::days(60), NOW + Duration::days(1)),
        (all[3].started_at, all[3].resolved_at.unwrap_or(NOW)),
        (
            all[10].started_at + Duration::nanoseconds(1),
            all[20].started_at.max(all[10].started_at) + Duration::hours(1),
        ),
    ];
    let filters: Vec<fn(&mut WindowQuery)> = vec![
        |_| {},
        |q| q.status = Some(Status::Resolved),
        |q| q.status = Some(Status::Investigating),
        |q| q.severity = Some(Severity::Sev3),
        |q| q.system = Some(system("mail")),
        |q| {
            q.system = Some(system("vpn"));
            q.severity = Some(Severity::Sev1);
        },
    ];
    for (from, to) in windows {
        for filter in &filters {
            for limit in [1, 7, 500] {
                let mut query = WindowQuery::new(Window::new(from, to).unwrap());
                filter(&mut query);
                query.limit = limit;
                let mut pages = 0;
                loop {
                    let expected = query.paginate(all.clone());
                    let page = store.list_window(&query).await.unwrap();
                    assert_eq!(page, expected, "{from}..{to} {query:?}");
                    assert_eq!(page.next, expected.next);
                    pages += 1;
                    match page.next {
                        Some(cursor) => query.cursor = Some(cursor),
                        None => break,
                    }
                }
                assert!(pages <= all.len() + 1);
            }
        }
    }
}

#[tokio::test]
async fn window_boundaries_are_half_open() {
    let (_dir, store) = store();
    let start = datetime!(2026-11-20 10:00 UTC);
    let incident = open(&store, "At the edge", start).await;
    let resolved = resolve(&store, &incident, start + Duration::hours(1)).await;
    let count = |from, to| {
        let store = store.clone();
        async move { store.list_window(&WindowQuery::new(Window::new(from, to).unwrap())).await.unwrap().items.len() }
    };
    assert_eq!(count(start - Duration::hours(1), start).await, 0, "ends where the incident starts");
    assert_eq!(count(start - Duration::hours(1), start + Duration::nanoseconds(1)).await, 1);
    assert_eq!(count(resolved.resolved_at.unwrap(), start + Duration::hours(2)).await, 0, "starts as it ends");
    assert_eq!(count(resolved.resolved_at.unwrap() - Duration::nanoseconds(1), start + Duration::hours(2)).await, 1);
}

#[tokio::test]
async fn the_window_and_open_queries_read_only_through_indices() {
    let (_dir, store) = store();
    history(&store).await;
    let window = Window::new(NOW - Duration::days(7), NOW).unwrap();
    let cursor =
        flare_core::Cursor { started_at: NOW - Duration::days(1), ticket: TicketNumber::from_number(5).unwrap() };
    let query = WindowQuery {
        status: Some(Status::Investigating),
        severity: Some(Severity::Sev2),
        system: Some(system("vpn")),
        cursor: Some(cursor),
        ..WindowQuery::new(window)
    };
    let plan = |sql: String, params: Vec<(&'static str, rusqlite::types::Value)>| {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        let params: Vec<(&str, &dyn rusqlite::ToSql)> =
            params.iter().map(|(n, v)| (*n, v as &dyn rusqlite::ToSql)).collect();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params.as_slice(), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect::<Vec<_>>()
    };
    for q in [WindowQuery::new(window), query] {
        let window::PageSql { sql, params } = window::sql(&q, 50).unwrap();
        let plan = plan(sql, params);
        assert!(plan.iter().any(|d| d.contains("USING INDEX incidents_by_start")), "{plan:#?}");
        assert!(plan.iter().any(|d| d.contains("USING INDEX incidents_by_end")), "{plan:#?}");
        assert!(!plan.iter().any(|d| d.starts_with("SCAN incidents")), "{plan:#?}");
    }
    let plan = plan(super::incidents::LIST_OPEN.to_string(), Vec::new());
    assert!(plan.iter().any(|d| d.contains("incidents_open")), "{plan:#?}");
}

#[tokio::test]
async fn expired_idempotency_records_are_purged() {
    let (_dir, store) = store();
    open_with(&store, command("A", NOW, &["vpn"], Source::new(Channel::Api)), Some("k")).await;
    assert_eq!(store.purge_expired_idempotency(NOW).await.unwrap(), 0);
    assert_eq!(store.purge_expired_idempotency(NOW + Duration::hours(24)).await.unwrap(), 1);
}

#[tokio::test]
async fn systems_and_subscribers_are_replaced_by_key() {
    let (_dir, store) = store();
    let mut vpn =
        System { id: system("vpn"), name: SystemName::parse("name", "VPN").unwrap(), owner: None, owner_email: None };
    store.put_system(&vpn).await.unwrap();
    vpn.owner = Some(PersonName::parse("owner", "Ada").unwrap());
    store.put_system(&vpn).await.unwrap();
    assert_eq!(store.get_system(&vpn.id).await.unwrap(), Some(vpn.clone()));
    assert_eq!(store.list_systems().await.unwrap(), vec![vpn.clone()]);

    let email = EmailAddress::parse("email", "ada@example.com").unwrap();
    let mut ada = Subscriber::new(vpn.id.clone(), Some(email), None, None).unwrap();
    store.put_subscriber(&ada).await.unwrap();
    ada.name = Some(PersonName::parse("name", "Ada").unwrap());
    store.put_subscriber(&ada).await.unwrap();
    assert_eq!(store.subscribers(&vpn.id).await.unwrap(), vec![ada]);
    assert!(store.subscribers(&system("mail")).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_taken_username_is_refused() {
    let (_dir, store) = store();
    let user = User {
        username: Username::parse("username", "ada").unwrap(),
        display_name: PersonName::parse("name", "Ada").unwrap(),
        password_hash: "$argon2id$stub".into(),
        scopes: vec![Scope::IncidentsWrite],
        created_at: NOW,
        disabled: false,
        sessions_valid_after: None,
    };
    store.create_user(&user).await.unwrap();
    assert!(matches!(store.create_user(&user).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.get_user(&user.username).await.unwrap(), Some(user));
}

#[tokio::test]
async fn revoking_a_key_keeps_the_first_time() {
    let (_dir, store) = store();
    let (key, _token) = ApiKey::generate(PersonName::parse("name", "monitoring").unwrap(), vec![Scope::Admin], NOW);
    store.create_api_key(&key).await.unwrap();
    assert!(matches!(store.create_api_key(&key).await, Err(StoreError::AlreadyExists { .. })));
    assert!(store.revoke_api_key(&key.id, NOW + Duration::hours(1)).await.unwrap());
    assert!(store.revoke_api_key(&key.id, NOW + Duration::hours(2)).await.unwrap());
    assert!(!store.revoke_api_key("fk_unknown", NOW).await.unwrap());
    let found = store.find_api_key(&key.hash).await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(NOW + Duration::hours(1)));
    assert_eq!(store.list_api_keys().await.unwrap(), vec![found]);
}

async fn queued(store: &SqliteStore, now: OffsetDateTime) -> Vec<(TicketNumber, u64)> {
    store.due_events(now, 100).await.unwrap().into_iter().map(|q| (q.ticket, q.seq)).collect()
}

#[tokio::test]
async fn the_events_of_create_and_save_are_queued_due_at_once_in_order() {
    let (_dir, store) = store();
    let a = open(&store, "VPN down", NOW).await;
    let b = open(&store, "Mail slow", NOW).await;
    let (a2, event) = retitle(&a, "VPN very down");
    store.save(&a2, &event, None).await.unwrap();
    assert_eq!(queued(&store, NOW).await, [(a.ticket, 1), (b.ticket, 1)], "an incident's later event waits");
    assert_eq!(store.due_events(NOW, 1).await.unwrap(), [QueuedEvent { ticket: a.ticket, seq: 1, attempts: 0 }]);
    assert!(queued(&store, NOW - Duration::microseconds(1)).await.is_empty());
    assert_eq!(store.pending_events().await.unwrap(), 3);
    store.finish_event(a.ticket, 1).await.unwrap();
    assert_eq!(queued(&store, NOW).await, [(a.ticket, 2), (b.ticket, 1)]);
}

#[tokio::test]
async fn a_finished_event_leaves_the_queue() {
    let (_dir, store) = store();
    let a = open(&store, "VPN down", NOW).await;
    store.finish_event(a.ticket, 1).await.unwrap();
    assert!(queued(&store, NOW).await.is_empty());
    assert_eq!(store.pending_events().await.unwrap(), 0);
    store.finish_event(a.ticket, 1).await.unwrap();
}

#[tokio::test]
async fn a_postponed_event_is_due_again_later_with_its_attempts_counted() {
    let (dir, store) = store();
    let a = open(&store, "VPN down", NOW).await;
    let b = open(&store, "Mail slow", NOW).await;
    store.postpone_event(a.ticket, 1, NOW + Duration::minutes(1), "mail server said 451").await.unwrap();
    store.postpone_event(a.ticket, 1, NOW + Duration::minutes(5), "connection refused").await.unwrap();
    assert_eq!(queued(&store, NOW + Duration::minutes(4)).await, [(b.ticket, 1)]);
    assert_eq!(queued(&store, NOW + Duration::minutes(5)).await, [(b.ticket, 1), (a.ticket, 1)]);
    assert_eq!(store.pending_events().await.unwrap(), 2);

    let conn = rusqlite::Connection::open(dir.path().join("flare.db")).unwrap();
    let sql = "SELECT attempts, last_error FROM dispatch_queue WHERE ticket = ?1 AND seq = 1";
    let row: (i64, Option<String>) =
        conn.query_row(sql, [i64::try_from(a.ticket.number()).unwrap()], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(row, (2, Some("connection refused".into())));
}

#[tokio::test]
async fn a_failed_save_or_create_queues_nothing() {
    let (_dir, store) = store();
    let v1 = open_with(&store, command("Row 7", NOW, &["vpn"], sheet_row("r7")), None).await;
    let (stale, stale_event) = retitle(&v1, "VPN very slow");
    let (v2, e2) = retitle(&v1, "VPN down");
    store.save(&v2, &e2, None).await.unwrap();
    assert!(matches!(store.save(&stale, &stale_event, None).await, Err(StoreError::Conflict { .. })));

    let ticket = store.next_ticket().await.unwrap();
    let (dup, event) = command("Row 7 again", NOW, &["vpn"], sheet_row("r7")).apply(ticket, &actor(), NOW).unwrap();
    let new = NewIncident { incident: &dup, event: &event, idempotency: None };
    assert!(matches!(store.create(new).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(queued(&store, NOW).await, [(v1.ticket, 1)]);
    assert_eq!(store.pending_events().await.unwrap(), 2);
}

#[tokio::test]
async fn the_worker_polls_the_queue_through_its_index() {
    let (_dir, store) = store();
    open(&store, "VPN down", NOW).await;
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", super::queue::DUE)).unwrap();
    let plan: Vec<String> =
        stmt.query_map(rusqlite::params!["x", 10], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
    assert!(plan.iter().any(|d| d.contains("dispatch_queue_by_due")), "{plan:#?}");
    assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:#?}");
}

#[tokio::test]
async fn a_due_event_carries_the_attempts_its_row_counts() {
    let (_dir, store) = store();
    let a = open(&store, "VPN down", NOW).await;
    store.postpone_event(a.ticket, 1, NOW, "mail server said 451").await.unwrap();
    store.postpone_event(a.ticket, 1, NOW, "connection refused").await.unwrap();
    assert_eq!(store.due_events(NOW, 10).await.unwrap(), [QueuedEvent { ticket: a.ticket, seq: 1, attempts: 2 }]);
}

#[tokio::test]
async fn an_event_reads_back_with_the_incident_as_it_left_it() {
    let (_dir, store) = store();
    let v1 = open(&store, "VPN down", NOW).await;
    let (v2, e2) = retitle(&v1, "VPN very down");
    store.save(&v2, &e2, None).await.unwrap();
    let first = store.event(v1.ticket, 1).await.unwrap().unwrap();
    assert_eq!(first.incident, Some(v1));
    assert_eq!(first.event.seq, 1);
}
