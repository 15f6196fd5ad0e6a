//! Probes against a fixture target that fails, flaps and recovers. Checks run back to back: the interval
//! between them is the host's business, so no test waits for time to pass.

use flare_core::{Channel, Status, TicketNumber};
use flare_poll::Poller;

use crate::support::{Desk, FixtureServer};

fn poller(desk: &Desk, server: &FixtureServer) -> Poller {
    let config = format!(
        r#"{{"probes": [{{"system": "vpn", "url": "{}", "expected_status": 200, "body_contains": "ok"}}],
            "allowed_hosts": ["127.0.0.1"], "deny_private": true}}"#,
        server.url("/health")
    );
    desk.poller(&config)
}

/// Runs `n` checks and returns how many incidents exist afterwards.
async fn check(desk: &Desk, poller: &Poller, n: usize) -> usize {
    for _ in 0..n {
        poller.check_probe(&poller.config().probes[0]).await.unwrap();
    }
    desk.store.list_open().await.unwrap().len()
}

#[tokio::test]
async fn a_target_failing_three_times_opens_exactly_one_incident() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    server.set_health(&[503, 503, 503, 503, 503, 503]);
    let poller = poller(&desk, &server);

    check(&desk, &poller, 6).await;

    let open = desk.store.list_open().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].title.as_str(), "VPN is failing its health check");
    assert_eq!(open[0].source.channel, Channel::Probe);
    assert!(desk.store.get(TicketNumber::from_number(2).unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn two_failures_open_nothing_yet() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    server.set_health(&[503, 503]);
    let poller = poller(&desk, &server);

    assert_eq!(check(&desk, &poller, 2).await, 0);
}

#[tokio::test]
async fn a_target_alternating_fail_and_ok_for_20_checks_opens_none() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    let statuses: Vec<u16> = (0..20).map(|i| if i % 2 == 0 { 503 } else { 200 }).collect();
    server.set_health(&statuses);
    let poller = poller(&desk, &server);

    check(&desk, &poller, 20).await;

    assert!(desk.store.get(TicketNumber::from_number(1).unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_recovering_target_resolves_its_incident() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    server.set_health(&[503, 503, 503, 200, 200]);
    let poller = poller(&desk, &server);

    check(&desk, &poller, 5).await;

    let incident = desk.store.get(TicketNumber::from_number(1).unwrap()).await.unwrap().unwrap();
    assert_eq!(incident.status, Status::Resolved);
    let timeline = desk.store.timeline(incident.ticket).await.unwrap();
    assert_eq!(timeline.len(), 2, "opened, then resolved: no update per failing check");
    assert_eq!(timeline[1].actor.to_string(), "system:probe:vpn");
}

#[tokio::test]
async fn a_failing_check_is_kept_and_readable_before_any_incident_opens() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    server.set_health(&[200, 503]);
    let poller = poller(&desk, &server);

    check(&desk, &poller, 2).await;

    let checks = desk.store.checks("probe:vpn", 10).await.unwrap();
    let got: Vec<(u64, bool, Option<u16>)> = checks.iter().map(|c| (c.seq, c.ok, c.status)).collect();
    assert_eq!(got, [(2, false, Some(503)), (1, true, Some(200))]);
    assert_eq!(checks[0].reason.as_deref(), Some("answered 503, expected 200"));
}
