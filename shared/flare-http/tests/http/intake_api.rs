//! The write API: status codes, bodies, idempotency and optimistic concurrency.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, open_body};

#[tokio::test]
async fn opening_an_incident_answers_201_with_its_location_and_view() {
    let app = TestApp::new().await;
    let reply = app.write(Method::POST, "/api/incidents", open_body("VPN down")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let body = reply.json();
    let ticket = body["ticket"].as_str().unwrap();
    assert_eq!(reply.header("location"), Some(format!("/api/incidents/{ticket}").as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(body["version"], 1);
    assert_eq!(body["replayed"], false);
    assert_eq!(body["incident"]["title"], "VPN down");
    assert_eq!(body["incident"]["status"], "investigating");
    assert_eq!(body["incident"]["systems"], json!([{"system": "vpn", "impact": "major_outage"}]));
    assert_eq!(body["incident"]["duration"], json!(null));
}

#[tokio::test]
async fn opening_from_a_urlencoded_body_works_like_json() {
    let app = TestApp::new().await;
    let form = "title=Mail+slow&description=Queues+backing+up&severity=sev3&impact.email=degraded&\
                started_at=2026-11-22T10:30&tz_offset=%2B01:00&notify=on";
    let request = Request::post("/api/incidents")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.writer))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let incident = &reply.json()["incident"];
    assert_eq!(incident["started_at"], "2026-11-22T09:30:00Z");
    assert_eq!(incident["systems"], json!([{"system": "email", "impact": "degraded"}]));
}

#[tokio::test]
async fn a_repeated_idempotency_key_opens_one_incident() {
    let app = TestApp::new().await;
    let key = [("Idempotency-Key", "open-vpn-1")];
    let first = app.write_with(Method::POST, "/api/incidents", open_body("VPN down"), &key).await;
    let second = app.write_with(Method::POST, "/api/incidents", open_body("VPN down"), &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.json()["ticket"], second.json()["ticket"]);
    assert_eq!(second.json()["replayed"], true);
    let list = app.get(crate::support::ALL, Some(&app.reader)).await.json();
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_request_is_refused_with_422() {
    let app = TestApp::new().await;
    let key = [("Idempotency-Key", "k-1")];
    app.write_with(Method::POST, "/api/incidents", open_body("VPN down"), &key).await;
    let reply = app.write_with(Method::POST, "/api/incidents", open_body("Mail down"), &key).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.json()["error"].as_str().unwrap().contains("idempotency key"));
}

#[tokio::test]
async fn an_update_with_a_stale_if_match_is_refused_with_409_and_the_current_version() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let uri = format!("/api/incidents/{ticket}");
    let ok = app.write_with(Method::PATCH, &uri, json!({"status": "identified"}), &[("If-Match", "\"1\"")]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let stale = app.write_with(Method::PATCH, &uri, json!({"severity": "sev1"}), &[("If-Match", "\"1\"")]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.json()["current_version"], 2);
    assert_eq!(app.incident(&ticket).await.unwrap().severity.as_str(), "sev2", "nothing was written");
}

#[tokio::test]
async fn a_version_field_works_like_if_match() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let uri = format!("/api/incidents/{ticket}");
    let stale = app.write(Method::PATCH, &uri, json!({"version": 7, "severity": "sev1"})).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.json()["current_version"], 1);
    let ok = app.write_with(Method::PATCH, &uri, json!({"version": 1, "severity": "sev1"}), &[("If-Match", "1")]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["version"], 2);
    assert_eq!(ok.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn resolving_twice_is_rejected_with_409() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let uri = format!("/api/incidents/{ticket}/resolve");
    let first = app.write(Method::POST, &uri, json!({"message": "Fixed the tunnel"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["incident"]["status"], "resolved");
    let second = app.write(Method::POST, &uri, json!({})).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert!(second.json()["error"].as_str().unwrap().contains("already resolved"));
}

#[tokio::test]
async fn a_resolved_incident_reopens_and_records_its_duration_meanwhile() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    app.clock.set(crate::support::NOW + time::Duration::minutes(90));
    let resolved = app.write(Method::POST, &format!("/api/incidents/{ticket}/resolve"), json!({})).await;
    assert_eq!(resolved.json()["incident"]["duration"], 5400);
    let reopened =
        app.write(Method::POST, &format!("/api/incidents/{ticket}/reopen"), json!({"message": "Back"})).await;
    assert_eq!(reopened.status, StatusCode::OK);
    assert_eq!(reopened.json()["incident"]["status"], "investigating");
}

#[tokio::test]
async fn reopening_an_open_incident_is_rejected_with_409() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let reply = app.write(Method::POST, &format!("/api/incidents/{ticket}/reopen"), json!({})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_note_is_recorded_on_the_timeline_under_the_keys_name() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let reply =
        app.write(Method::POST, &format!("/api/incidents/{ticket}/notes"), json!({"message": "Vendor called"})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let detail = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await.json();
    let note = &detail["timeline"][1];
    assert_eq!(note["kind"], "note");
    assert_eq!(note["message"], "Vendor called");
    assert_eq!(note["actor"]["kind"], "api_key");
    assert_eq!(note["actor"]["name"], "monitoring");
}

#[tokio::test]
async fn a_resolve_with_an_empty_body_resolves_now() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let request = Request::post(format!("/api/incidents/{ticket}/resolve"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.writer))
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["incident"]["resolved_at"], "2026-11-22T12:00:00Z");
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_refused_with_422() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let reply = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), json!({"severity": "sev2"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}
