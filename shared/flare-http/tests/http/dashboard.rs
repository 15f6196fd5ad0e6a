//! The read API: windows, filters, pages, the timeline, caching validators, CORS and the health check.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use time::Duration;

use crate::support::{ALL, ALLOWED_ORIGIN, NOW, TestApp, open_body};

/// Opens an incident that started `started_days_ago` and, if given, resolved `resolved_days_ago`.
async fn incident_between(app: &TestApp, title: &str, started_days_ago: i64, resolved_days_ago: Option<i64>) -> String {
    app.clock.set(NOW - Duration::days(started_days_ago));
    let ticket = app.open(title).await;
    if let Some(r) = resolved_days_ago {
        app.clock.set(NOW - Duration::days(r));
        let reply = app.write(Method::POST, &format!("/api/incidents/{ticket}/resolve"), json!({})).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    app.clock.set(NOW);
    ticket
}

fn titles(list: &serde_json::Value) -> Vec<String> {
    list["incidents"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_default_window_is_the_last_seven_days_up_to_the_next_whole_minute() {
    let app = TestApp::public().await;
    incident_between(&app, "ended before the window", 10, Some(8)).await;
    incident_between(&app, "ended inside the window", 9, Some(6)).await;
    incident_between(&app, "started inside the window", 2, None).await;
    let list = app.get("/api/incidents", None).await.json();
    // On whole minutes, so the answer and its ETag hold for a minute; what started this second is inside.
    assert_eq!(list["from"], "2026-11-15T12:01:00Z");
    assert_eq!(list["to"], "2026-11-22T12:01:00Z");
    assert_eq!(titles(&list), ["started inside the window", "ended inside the window"]);
    assert_eq!(list["next"], json!(null));
}

#[tokio::test]
async fn a_date_only_bound_means_midnight_utc() {
    let app = TestApp::public().await;
    incident_between(&app, "last week", 8, Some(7)).await;
    let list = app.get("/api/incidents?from=2026-11-01&to=2026-11-15", None).await.json();
    assert_eq!(list["from"], "2026-11-01T00:00:00Z");
    assert_eq!(list["to"], "2026-11-15T00:00:00Z");
    assert_eq!(titles(&list), ["last week"]);
}

#[tokio::test]
async fn rfc3339_bounds_with_offsets_are_read_in_utc() {
    let app = TestApp::public().await;
    let list = app.get("/api/incidents?from=2026-11-20T10:00:00%2B02:00&to=2026-11-21T00:00:00Z", None).await.json();
    assert_eq!(list["from"], "2026-11-20T08:00:00Z");
}

#[tokio::test]
async fn an_open_incident_overlaps_every_later_window() {
    let app = TestApp::public().await;
    incident_between(&app, "still open", 30, None).await;
    assert_eq!(titles(&app.get("/api/incidents", None).await.json()), ["still open"]);
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let app = TestApp::public().await;
    app.open("VPN down").await;
    let mut mail = open_body("Mail slow");
    mail["severity"] = json!("sev4");
    mail["systems"] = json!([{"system": "email", "impact": "degraded"}]);
    app.write(Method::POST, "/api/incidents", mail).await;
    assert_eq!(titles(&app.get(&format!("{ALL}&system=email"), None).await.json()), ["Mail slow"]);
    assert_eq!(titles(&app.get(&format!("{ALL}&severity=sev2"), None).await.json()), ["VPN down"]);
    assert_eq!(titles(&app.get(&format!("{ALL}&status=resolved"), None).await.json()), Vec::<String>::new());
}

#[tokio::test]
async fn pages_follow_the_cursor() {
    let app = TestApp::public().await;
    for (i, title) in ["one", "two", "three"].iter().enumerate() {
        app.clock.set(NOW - Duration::hours(3 - i as i64));
        app.open(title).await;
    }
    app.clock.set(NOW);
    let first = app.get("/api/incidents?limit=2", None).await.json();
    assert_eq!(titles(&first), ["three", "two"]);
    let cursor = first["next"].as_str().unwrap();
    let second = app.get(&format!("/api/incidents?limit=2&cursor={cursor}"), None).await.json();
    assert_eq!(titles(&second), ["one"]);
    assert_eq!(second["next"], json!(null));
}

#[tokio::test]
async fn each_incident_carries_the_dashboard_fields() {
    let app = TestApp::public().await;
    let ticket = incident_between(&app, "VPN down", 1, Some(0)).await;
    let list = app.get("/api/incidents", Some(&app.reader)).await.json();
    let incident = &list["incidents"][0];
    for field in [
        "ticket",
        "title",
        "description",
        "status",
        "severity",
        "systems",
        "engineer",
        "started_at",
        "resolved_at",
        "duration",
        "ticket_url",
        "updated_at",
        "version",
    ] {
        assert!(incident.get(field).is_some(), "{field} is missing");
    }
    assert_eq!(incident["ticket"], ticket);
    assert_eq!(incident["duration"], 86_400);
    assert_eq!(incident["ticket_url"], json!(null));
}

#[tokio::test]
async fn an_incident_reads_back_with_its_timeline() {
    let app = TestApp::public().await;
    let ticket = app.open("VPN down").await;
    app.write(
        Method::PATCH,
        &format!("/api/incidents/{ticket}"),
        json!({"status": "identified", "message": "Found it"}),
    )
    .await;
    let reply = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await;
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let detail = reply.json();
    assert_eq!(detail["status"], "identified");
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0]["seq"], 1);
    assert_eq!(timeline[0]["kind"], "opened");
    assert_eq!(timeline[1]["kind"], "updated");
    assert_eq!(timeline[1]["message"], "Found it");
    assert_eq!(timeline[1]["at"], "2026-11-22T12:00:00Z");
    assert_eq!(
        timeline[1]["actor"],
        json!({"kind": "api_key", "id": timeline[1]["actor"]["id"], "name": "monitoring"})
    );
    assert_eq!(timeline[1]["changes"], json!([{"field": "status", "from": "investigating", "to": "identified"}]));
}

#[tokio::test]
async fn an_unchanged_list_answers_304_to_its_etag() {
    let app = TestApp::public().await;
    app.open("VPN down").await;
    let first = app.get(ALL, None).await;
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let etag = first.header("etag").unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "a strong ETag: {etag}");
    let again = Request::get(ALL).header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    let reply = app.send(again).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn a_change_gives_the_list_a_new_etag() {
    let app = TestApp::public().await;
    app.open("VPN down").await;
    let before = app.get(ALL, None).await.header("etag").unwrap().to_string();
    app.open("Mail down").await;
    let request = Request::get(ALL).header(header::IF_NONE_MATCH, &before).body(Body::empty()).unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_ne!(reply.header("etag"), Some(before.as_str()));
}

#[tokio::test]
async fn private_answers_are_marked_private() {
    let app = TestApp::new().await;
    let reply = app.get("/api/systems", Some(&app.reader)).await;
    assert_eq!(reply.header("cache-control"), Some("private, no-cache"));
}

#[tokio::test]
async fn the_catalog_lists_systems_by_id() {
    let app = TestApp::public().await;
    let systems = app.get("/api/systems", None).await.json();
    let ids: Vec<&str> = systems["systems"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["email", "payroll", "vpn"]);
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/incidents")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization, content-type")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_allows_a_configured_origin() {
    let app = TestApp::new().await;
    let reply = app.send(preflight(ALLOWED_ORIGIN)).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some(ALLOWED_ORIGIN));
    let get = Request::get("/api/openapi.json").header(header::ORIGIN, ALLOWED_ORIGIN).body(Body::empty()).unwrap();
    assert_eq!(app.send(get).await.header("access-control-allow-origin"), Some(ALLOWED_ORIGIN));
}

#[tokio::test]
async fn cors_ignores_any_other_origin() {
    let app = TestApp::new().await;
    let reply = app.send(preflight("https://evil.example.com")).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_health_check_answers_ok() {
    let app = TestApp::new().await;
    let reply = app.get("/healthz", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn each_router_works_on_its_own() {
    // The split routers are what the two Lambdas run: each serves its own routes and nothing else.
    let (_app, intake, dashboard) = crate::support::split_routers().await;
    let health = crate::support::send(&dashboard, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status, StatusCode::OK);
    let form = crate::support::send(&intake, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(form.status, StatusCode::OK);
    let missing = crate::support::send(&intake, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_default_windows_etag_holds_within_a_minute_so_a_poll_gets_304() {
    let app = TestApp::public().await;
    incident_between(&app, "started inside the window", 2, None).await;
    let first = app.get("/api/incidents", None).await;
    let etag = first.header("etag").unwrap().to_owned();
    app.clock.set(NOW + Duration::seconds(30));
    let again = Request::get("/api/incidents").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    assert_eq!(app.send(again).await.status, StatusCode::NOT_MODIFIED);
}
