//! SCRATCH (to delete): main flows against DynamoDB Local at FLARE_TEST_DYNAMODB_ENDPOINT.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flare_aws::{DynamoStore, local_client, schema};
use flare_core::text::{Description, ExternalId, PersonName, Title};
use flare_core::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn endpoint() -> Option<String> {
    std::env::var("FLARE_TEST_DYNAMODB_ENDPOINT").ok()
}

static N: AtomicU64 = AtomicU64::new(0);

async fn store() -> DynamoStore {
    let client = local_client(&endpoint().unwrap());
    let name = format!("scratch-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    schema::create_table(&client, &name).await.unwrap();
    DynamoStore::new(client, name)
}

fn incident(ticket: u64, start: OffsetDateTime, resolved: Option<OffsetDateTime>, sev: Severity) -> Incident {
    Incident {
        ticket: TicketNumber::from_number(ticket).unwrap(),
        title: Title::parse("t", &format!("incident {ticket}")).unwrap(),
        description: Description::parse("d", "desc").unwrap(),
        severity: sev,
        status: if resolved.is_some() { Status::Resolved } else { Status::Investigating },
        systems: vec![],
        engineer: None,
        reporter: PersonName::parse("r", "Ada").unwrap(),
        started_at: start,
        detected_at: None,
        resolved_at: resolved,
        external: None,
        source: Source::new(Channel::Api),
        root_cause: None,
        follow_ups: vec![],
        version: 1,
        created_at: start,
        updated_at: start,
    }
}

fn event(i: &Incident, at: OffsetDateTime) -> TimelineEvent {
    TimelineEvent {
        ticket: i.ticket,
        seq: i.version,
        at,
        actor: Actor::system("test"),
        kind: EventKind::Updated,
        changes: vec![],
        message: None,
        notify: false,
    }
}

#[derive(Debug)]
struct FixedClock(std::sync::Mutex<OffsetDateTime>);
impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

#[tokio::test]
async fn concurrent_opens_conflicts_idempotency() {
    if endpoint().is_none() {
        return;
    }
    let s = Arc::new(store().await);
    let clock = Arc::new(FixedClock(std::sync::Mutex::new(datetime!(2026-11-22 09:00 UTC))));
    let svc = IncidentService::new(s.clone(), clock.clone());
    let actor = Actor::system("t");
    let open = |n: usize| OpenIncident {
        title: Title::parse("t", &format!("x{n}")).unwrap(),
        description: Description::parse("d", "d").unwrap(),
        severity: Severity::Sev2,
        systems: vec![],
        engineer: None,
        started_at: None,
        detected_at: None,
        source: Source::new(Channel::Api),
        notify: false,
    };
    let mut tasks = Vec::new();
    for n in 0..20 {
        let svc = svc.clone();
        let actor = actor.clone();
        let cmd = open(n);
        tasks.push(tokio::spawn(async move { svc.open(cmd, &actor, None).await.unwrap().ticket.number() }));
    }
    let mut tickets: Vec<u64> = futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
    tickets.sort();
    assert_eq!(tickets, (1..=20).collect::<Vec<_>>());

    // Idempotent replay.
    let a = svc.open(open(99), &actor, Some("k1")).await.unwrap();
    let b = svc.open(open(99), &actor, Some("k1")).await.unwrap();
    assert_eq!(a.ticket, b.ticket);
    assert!(b.replayed);
    assert!(matches!(svc.open(open(98), &actor, Some("k1")).await, Err(DomainError::IdempotencyMismatch)));
    // Concurrent same key.
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let svc = svc.clone();
        let actor = actor.clone();
        let cmd = open(77);
        tasks.push(tokio::spawn(async move { svc.open(cmd, &actor, Some("k2")).await.unwrap().ticket }));
    }
    let ts: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
    assert!(ts.iter().all(|t| *t == ts[0]), "{ts:?}");
    // Expired key reusable.
    *clock.0.lock().unwrap() += Duration::hours(25);
    let c = svc.open(open(99), &actor, Some("k1")).await.unwrap();
    assert_ne!(c.ticket, a.ticket);
    assert!(!c.replayed);

    // Conflict on stale version.
    let t1 = TicketNumber::from_number(1).unwrap();
    let cur = s.get(t1).await.unwrap().unwrap();
    let mut next = cur.clone();
    next.version = 2;
    next.title = Title::parse("t", "changed").unwrap();
    s.save(&next, &event(&next, cur.started_at), None).await.unwrap();
    let e = s.save(&next, &event(&next, cur.started_at), None).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { current: 2, .. }), "{e:?}");
    // Missing incident.
    let mut ghost = next.clone();
    ghost.ticket = TicketNumber::from_number(999).unwrap();
    let e = s.save(&ghost, &event(&ghost, cur.started_at), None).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e:?}");
    assert!(s.timeline(ghost.ticket).await.unwrap().is_empty());
    let tl = s.timeline(t1).await.unwrap();
    assert_eq!(tl.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);

    // Concurrent updates through the service with retries.
    let mut tasks = Vec::new();
    for n in 0..6 {
        let svc = svc.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            let mut u = UpdateIncident::new(t1);
            u.message = Some(flare_core::text::Message::parse("m", &format!("note {n}")).unwrap());
            svc.execute(Command::Update(Box::new(u)), &actor, None).await
        }));
    }
    for r in futures::future::join_all(tasks).await {
        let r = r.unwrap();
        assert!(r.is_ok() || matches!(r, Err(DomainError::Conflict { .. })), "{r:?}");
    }
    let tl = s.timeline(t1).await.unwrap();
    let seqs: Vec<u64> = tl.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(s.get(t1).await.unwrap().unwrap().version, seqs.len() as u64);

    // External id.
    let mut ext = incident(500, datetime!(2026-11-01 00:00 UTC), None, Severity::Sev3);
    ext.source = Source { channel: Channel::Sheet, external_id: Some(ExternalId::parse("x", "row-1").unwrap()) };
    s.create(NewIncident { incident: &ext, event: &event(&ext, ext.started_at), idempotency: None }).await.unwrap();
    let mut ext2 = ext.clone();
    ext2.ticket = TicketNumber::from_number(501).unwrap();
    let e = s
        .create(NewIncident { incident: &ext2, event: &event(&ext2, ext.started_at), idempotency: None })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
    assert!(s.get(ext2.ticket).await.unwrap().is_none());
    assert_eq!(s.find_by_external_id(&ext.source).await.unwrap().unwrap().ticket, ext.ticket);
    let open_list = s.list_open().await.unwrap();
    assert!(open_list.windows(2).all(|w| (w[0].started_at, w[0].ticket) >= (w[1].started_at, w[1].ticket)));
}

/// Small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test]
async fn windows_match_brute_force() {
    if endpoint().is_none() {
        return;
    }
    let s = store().await;
    let base = datetime!(2026-01-01 00:00 UTC);
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut all = Vec::new();
    for t in 1..=150u64 {
        let start = base + Duration::minutes(rng.below(200 * 24 * 60) as i64);
        let sev = [Severity::Sev1, Severity::Sev2, Severity::Sev3][rng.below(3) as usize];
        let mut i = incident(t, start, None, sev);
        s.create(NewIncident { incident: &i, event: &event(&i, start), idempotency: None }).await.unwrap();
        // lifecycle
        let steps = rng.below(5);
        for step in 0..steps {
            let mut next = i.clone();
            next.version += 1;
            match (step, next.resolved_at) {
                (_, None) => {
                    let dur = match rng.below(4) {
                        0 => Duration::minutes(rng.below(600) as i64),
                        1 => Duration::hours(rng.below(24 * 10) as i64),
                        2 => Duration::days(rng.below(120) as i64),
                        _ => Duration::ZERO,
                    };
                    next.resolved_at = Some(next.started_at + dur);
                    next.status = Status::Resolved;
                }
                (_, Some(r)) if rng.below(2) == 0 => {
                    next.resolved_at = None;
                    next.status = Status::Investigating;
                    let _ = r;
                }
                (_, Some(r)) => {
                    // time correction
                    let back = Duration::hours(rng.below(24 * 30) as i64);
                    next.started_at = (next.started_at - back).min(r);
                }
            }
            s.save(&next, &event(&next, start), None).await.unwrap();
            i = next;
        }
        all.push(i);
    }
    for round in 0..60 {
        let from = base + Duration::minutes(rng.below(220 * 24 * 60) as i64) - Duration::days(10);
        let to = from + Duration::minutes(1 + rng.below(60 * 24 * 40) as i64);
        let mut q = WindowQuery::new(Window::new(from, to).unwrap());
        if round % 3 == 0 {
            q.severity = Some(Severity::Sev2);
        }
        if round % 4 == 0 {
            q.status = Some(Status::Resolved);
        }
        q.limit = 1 + rng.below(7) as usize;
        let mut expected: Vec<_> = all.iter().filter(|i| q.matches(i)).cloned().collect();
        expected.sort_by_key(|i| std::cmp::Reverse((i.started_at, i.ticket)));
        let mut got = Vec::new();
        loop {
            let page = s.list_window(&q).await.unwrap();
            assert!(page.items.len() <= q.limit);
            got.extend(page.items);
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let g: Vec<u64> = got.iter().map(|i| i.ticket.number()).collect();
        let e: Vec<u64> = expected.iter().map(|i| i.ticket.number()).collect();
        eprintln!("round {round}: {} results, limit {}", e.len(), q.limit);
        assert_eq!(g, e, "round {round} {from} {to}");
        assert_eq!(got, expected);
    }
    let open: Vec<u64> = s.list_open().await.unwrap().iter().map(|i| i.ticket.number()).collect();
    let mut exp: Vec<_> = all.iter().filter(|i| i.is_open()).collect();
    exp.sort_by_key(|i| std::cmp::Reverse((i.started_at, i.ticket)));
    assert_eq!(open, exp.iter().map(|i| i.ticket.number()).collect::<Vec<_>>());
}

#[tokio::test]
async fn catalog_and_access() {
    if endpoint().is_none() {
        return;
    }
    let s = store().await;
    let sys = |id: &str| System {
        id: SystemId::parse("s", id).unwrap(),
        name: flare_core::text::SystemName::parse("n", id).unwrap(),
        owner: None,
        owner_email: None,
    };
    for id in ["vpn", "mail", "erp"] {
        s.put_system(&sys(id)).await.unwrap();
    }
    let ids: Vec<String> = s.list_systems().await.unwrap().iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["erp", "mail", "vpn"]);
    assert!(s.get_system(&SystemId::parse("s", "vpn").unwrap()).await.unwrap().is_some());
    let vpn = SystemId::parse("s", "vpn").unwrap();
    for e in ["b@x.io", "a@x.io", "b@x.io"] {
        let sub = Subscriber::new(vpn.clone(), Some(EmailAddress::parse("e", e).unwrap()), None, None).unwrap();
        s.put_subscriber(&sub).await.unwrap();
    }
    assert_eq!(s.subscribers(&vpn).await.unwrap().len(), 2);
    let now = datetime!(2026-11-22 09:00 UTC);
    let user = User {
        username: Username::parse("u", "ada").unwrap(),
        display_name: PersonName::parse("n", "Ada").unwrap(),
        password_hash: "x".into(),
        scopes: vec![Scope::Admin],
        created_at: now,
        disabled: false,
    };
    s.create_user(&user).await.unwrap();
    assert!(matches!(s.create_user(&user).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(s.get_user(&user.username).await.unwrap().unwrap(), user);
    let (key, _) = ApiKey::generate(PersonName::parse("n", "mon").unwrap(), vec![Scope::IncidentsWrite], now);
    s.create_api_key(&key).await.unwrap();
    assert_eq!(s.list_api_keys().await.unwrap().len(), 1);
    assert!(!s.revoke_api_key("nope", now).await.unwrap());
    assert!(s.revoke_api_key(&key.id, now).await.unwrap());
    assert!(s.revoke_api_key(&key.id, now + Duration::hours(1)).await.unwrap());
    let found = s.find_api_key(&key.hash).await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(now));
}

#[tokio::test]
async fn racing_saves_one_wins_other_conflicts() {
    if endpoint().is_none() {
        return;
    }
    let s = Arc::new(store().await);
    let start = datetime!(2026-11-01 00:00 UTC);
    let i = incident(1, start, None, Severity::Sev3);
    s.create(NewIncident { incident: &i, event: &event(&i, start), idempotency: None }).await.unwrap();
    for round in 0..10u64 {
        let cur = s.get(i.ticket).await.unwrap().unwrap();
        let mut tasks = Vec::new();
        for n in 0..4 {
            let s = s.clone();
            let mut next = cur.clone();
            next.version += 1;
            next.resolved_at = Some(start + Duration::days(3 + n));
            next.status = Status::Resolved;
            if round % 2 == 1 {
                next.resolved_at = None;
                next.status = Status::Investigating;
                next.title = Title::parse("t", &format!("r{round}n{n}")).unwrap();
            }
            tasks.push(tokio::spawn(async move { s.save(&next, &event(&next, start), None).await }));
        }
        let results: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        eprintln!("{results:?}");
        assert_eq!(ok, 1, "{results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, StoreError::Conflict { current, .. } if *current == cur.version + 1), "{e:?}");
            }
        }
    }
}
