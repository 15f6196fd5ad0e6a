//! The poller's read API: sources, a sheet's bad rows, a probe's checks; reads follow the read configuration.

use axum::http::StatusCode;
use flare_core::poll::{BadRow, ProbeCheck, ProbeState, SourceState};

use crate::support::{NOW, TestApp};

async fn sheet_with_a_bad_row(app: &TestApp) {
    let mut state = SourceState::new("sheet:desk");
    state.last_run = Some(NOW);
    state.rows = 12;
    app.store.put_poll_source(&state).await.unwrap();
    let bad = BadRow {
        source: "sheet:desk".into(),
        row: 7,
        key: "k7".into(),
        field: "Systems".into(),
        reason: "names an unknown system: Coffee Machine".into(),
        at: NOW,
    };
    app.store.mark_row("sheet:desk", "k7", Some(&bad)).await.unwrap();
}

#[tokio::test]
async fn a_sheets_bad_rows_are_listed_with_row_field_and_reason() {
    let app = TestApp::public().await;
    sheet_with_a_bad_row(&app).await;

    let reply = app.get("/api/poll/sources/sheet:desk/bad-rows", Some(&app.reader)).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let row = &reply.json()["bad_rows"][0];
    assert_eq!((row["row"].as_u64(), row["field"].as_str()), (Some(7), Some("Systems")));
    assert_eq!(row["reason"], "names an unknown system: Coffee Machine");
}

#[tokio::test]
async fn sources_list_their_last_run_and_cursor() {
    let app = TestApp::public().await;
    sheet_with_a_bad_row(&app).await;
    let mut probe = SourceState::new("probe:vpn");
    probe.probe = Some(ProbeState { failures: 2, ..ProbeState::default() });
    app.store.put_poll_source(&probe).await.unwrap();

    let list = app.get("/api/poll/sources", Some(&app.reader)).await.json();

    assert_eq!(list["sources"][0]["source"], "probe:vpn");
    assert_eq!(list["sources"][0]["failures"], 2);
    assert_eq!(list["sources"][1]["last_run"], "2026-11-22T12:00:00Z");
    assert_eq!(list["sources"][1]["rows"], 12);
}

#[tokio::test]
async fn a_probes_failing_check_is_readable_newest_first() {
    let app = TestApp::public().await;
    app.store.put_poll_source(&SourceState::new("probe:vpn")).await.unwrap();
    for (seq, ok) in [(1, true), (2, false)] {
        let check = ProbeCheck {
            source: "probe:vpn".into(),
            seq,
            at: NOW,
            ok,
            status: Some(if ok { 200 } else { 503 }),
            elapsed_ms: 9,
            reason: (!ok).then(|| "answered 503, expected 200".into()),
        };
        app.store.record_check(&check).await.unwrap();
    }

    let checks = app.get("/api/poll/sources/probe:vpn/checks", Some(&app.reader)).await.json();

    assert_eq!(checks["checks"][0]["seq"], 2);
    assert_eq!(checks["checks"][0]["reason"], "answered 503, expected 200");
}

#[tokio::test]
async fn an_unknown_source_is_not_found() {
    let app = TestApp::public().await;
    assert_eq!(app.get("/api/poll/sources/sheet:none/bad-rows", Some(&app.reader)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn private_reads_need_a_key_for_poll_sources() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/poll/sources", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_poller_reads_need_a_key_or_a_sign_in_even_when_reads_are_public() {
    let app = TestApp::public().await;
    for uri in ["/api/poll/sources", "/api/poll/sources/sheet:desk/bad-rows", "/api/poll/sources/probe:vpn/checks"] {
        assert_eq!(app.get(uri, None).await.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
}
