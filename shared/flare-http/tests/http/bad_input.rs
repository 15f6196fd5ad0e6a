//! Bad input: each case answers with the right status and a body that names the problem, and leaves nothing
//! half-written behind.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, broken_app, open_body, send};

fn raw_post(app: &TestApp, uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", app.writer))
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

async fn nothing_was_opened(app: &TestApp) {
    let list = app.get(crate::support::ALL, Some(&app.reader)).await.json();
    assert_eq!(list["incidents"], json!([]), "a rejected request left an incident behind");
}

#[tokio::test]
async fn an_oversize_body_with_a_length_is_refused_with_413() {
    let app = TestApp::new().await;
    let body = json!({"title": "x", "description": "y".repeat(70 * 1024), "severity": "sev2"}).to_string();
    let mut request = raw_post(&app, "/api/incidents", "application/json", body.clone());
    request.headers_mut().insert(header::CONTENT_LENGTH, body.len().into());
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.json()["error"].as_str().unwrap().contains("larger"));
    nothing_was_opened(&app).await;
}

#[tokio::test]
async fn an_oversize_body_without_a_length_is_refused_with_413() {
    let app = TestApp::new().await;
    let body = json!({"title": "x", "description": "y".repeat(70 * 1024), "severity": "sev2"}).to_string();
    let stream = futures_stream(body.into_bytes());
    let reply = app.send(raw_post(&app, "/api/incidents", "application/json", stream)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    nothing_was_opened(&app).await;
}

/// A body of unknown length, as a chunked upload sends it.
fn futures_stream(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    Body::from_stream(futures::stream::iter(chunks))
}

#[tokio::test]
async fn a_body_in_another_format_is_refused_with_415() {
    let app = TestApp::new().await;
    let reply = app.send(raw_post(&app, "/api/incidents", "text/plain", "VPN down")).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.json()["error"].as_str().unwrap().contains("application/json"));
}

#[tokio::test]
async fn a_form_body_on_a_json_only_endpoint_is_refused_with_415() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let uri = format!("/api/incidents/{ticket}/notes");
    let reply = app.send(raw_post(&app, &uri, "application/x-www-form-urlencoded", "message=hi")).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn an_unknown_json_field_is_named_with_its_line_and_column() {
    let app = TestApp::new().await;
    let body = "{\n  \"title\": \"VPN down\",\n  \"colour\": \"red\"\n}";
    let reply = app.send(raw_post(&app, "/api/incidents", "application/json", body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("line 3"), "{error}");
    assert!(error.contains("unknown field `colour`"), "{error}");
    assert_eq!(reply.fields(), ["colour"]);
}

#[tokio::test]
async fn an_unknown_nested_field_is_named_by_its_path() {
    let app = TestApp::new().await;
    let mut body = open_body("VPN down");
    body["systems"] = json!([{"system": "vpn", "impact": "degraded", "owner": "Ada"}]);
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.fields(), ["systems[0].owner"]);
}

#[tokio::test]
async fn a_value_of_the_wrong_type_names_its_field() {
    let app = TestApp::new().await;
    let reply = app.write(Method::POST, "/api/incidents", json!({"title": 42})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.fields(), ["title"]);
    assert!(reply.json()["error"].as_str().unwrap().contains("column"));
}

#[tokio::test]
async fn malformed_json_names_the_line_and_column() {
    let app = TestApp::new().await;
    let reply = app.send(raw_post(&app, "/api/incidents", "application/json", "{\"title\": \"VPN\",,}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("line 1, column 17"), "{error}");
    assert_eq!(reply.fields(), ["body"]);
}

#[tokio::test]
async fn invalid_values_are_listed_field_by_field_with_422() {
    let app = TestApp::new().await;
    let body = json!({
        "title": "t".repeat(201),
        "description": "",
        "severity": "urgent",
        "systems": [{"system": "vpn", "impact": "meltdown"}],
        "started_at": "yesterday",
    });
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = reply.fields();
    fields.sort();
    assert_eq!(fields, ["description", "severity", "started_at", "systems[0].impact", "title"]);
    let json = reply.json();
    let reasons: Vec<&str> = json["fields"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"must be one of sev1, sev2, sev3, sev4"), "{reasons:?}");
    nothing_was_opened(&app).await;
}

#[tokio::test]
async fn missing_required_fields_are_each_named() {
    let app = TestApp::new().await;
    let reply = app.write(Method::POST, "/api/incidents", json!({})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["title", "description", "severity"]);
}

#[tokio::test]
async fn a_system_outside_the_catalog_is_refused() {
    let app = TestApp::new().await;
    let mut body = open_body("VPN down");
    body["systems"] = json!([{"system": "mainframe", "impact": "degraded"}]);
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["systems[0].system"]);
}

#[tokio::test]
async fn a_start_in_the_future_is_refused_and_writes_nothing() {
    let app = TestApp::new().await;
    let mut body = open_body("VPN down");
    body["started_at"] = json!("2026-11-23T12:00:00Z");
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["started_at"]);
    nothing_was_opened(&app).await;
}

#[tokio::test]
async fn an_unknown_form_field_is_refused_with_400() {
    let app = TestApp::new().await;
    let form = "title=VPN&description=down&severity=sev2&colour=red";
    let reply = app.send(raw_post(&app, "/api/incidents", "application/x-www-form-urlencoded", form)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.fields(), ["colour"]);
}

#[tokio::test]
async fn an_unknown_ticket_answers_404() {
    let app = TestApp::new().await;
    let reply = app.write(Method::PATCH, "/api/incidents/INC-999", json!({"severity": "sev1"})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"], "no incident INC-999");
    let read = app.get("/api/incidents/INC-999", Some(&app.reader)).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let garbled = app.get("/api/incidents/garbage", Some(&app.reader)).await;
    assert_eq!(garbled.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_malformed_if_match_is_refused_with_400() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let uri = format!("/api/incidents/{ticket}");
    let reply = app.write_with(Method::PATCH, &uri, json!({"severity": "sev1"}), &[("If-Match", "\"abc\"")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.fields(), ["If-Match"]);
    assert_eq!(app.incident(&ticket).await.unwrap().version, 1);
}

#[tokio::test]
async fn a_rejected_update_leaves_the_incident_as_it_was() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let uri = format!("/api/incidents/{ticket}");
    let reply = app.write(Method::PATCH, &uri, json!({"title": "VPN very down", "status": "resolved"})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "resolving goes through /resolve");
    let incident = app.incident(&ticket).await.unwrap();
    assert_eq!((incident.title.as_str(), incident.version), ("VPN down", 1));
}

#[tokio::test]
async fn an_unknown_route_answers_404_in_json() {
    let app = TestApp::new().await;
    let reply = app.get("/api/nothing-here", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.json()["error"].as_str().unwrap().contains("no such route"));
}

#[tokio::test]
async fn an_internal_error_answers_500_with_an_opaque_body() {
    let reply = send(&broken_app(), Request::get("/api/incidents").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = reply.json();
    assert_eq!(body["error"], "internal error");
    assert_eq!(body["request_id"].as_str().unwrap().len(), 32);
    assert!(!reply.text().contains("hunter2") && !reply.text().contains("disk"));
}

#[tokio::test]
async fn bad_query_parameters_are_named() {
    let app = TestApp::new().await;
    let reply = app.get("/api/incidents?from=last-week&limit=0&colour=red&status=done", Some(&app.reader)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.fields(), ["from", "limit", "colour", "status"]);
}

#[tokio::test]
async fn a_window_wider_than_366_days_is_refused() {
    let app = TestApp::new().await;
    let reply = app.get("/api/incidents?from=2025-01-01&to=2026-11-01", Some(&app.reader)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["to"]);
    assert!(reply.json()["error"].as_str().unwrap().contains("366 days"));
}

#[tokio::test]
async fn a_cursor_that_was_never_handed_out_is_refused() {
    let app = TestApp::new().await;
    let reply = app.get("/api/incidents?cursor=abc", Some(&app.reader)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["cursor"]);
}

#[tokio::test]
async fn a_window_bound_near_the_end_of_time_is_refused_not_a_crash() {
    let app = TestApp::new().await;
    for (query, field) in [("from=9999-12-31", "from"), ("to=-9999-01-01", "to"), ("from=0001-01-01", "from")] {
        let reply = app.get(&format!("/api/incidents?{query}"), Some(&app.reader)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn a_cursor_beyond_any_time_is_refused_not_a_crash() {
    let app = TestApp::new().await;
    let reply = app.get("/api/incidents?cursor=170141183460469231731687303715884106.1", Some(&app.reader)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["cursor"]);
}

#[tokio::test]
async fn a_start_before_the_year_2000_is_refused_as_a_typo() {
    let app = TestApp::new().await;
    let mut body = open_body("Typo in the year");
    body["started_at"] = json!("0026-11-22T09:00:00Z");
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.fields(), ["started_at"]);
    nothing_was_opened(&app).await;
}
