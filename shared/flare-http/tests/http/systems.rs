//! The admins' catalog API: systems and their subscribers.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use flare_core::SystemId;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

/// An app and a key with scope `admin`.
async fn with_admin() -> (TestApp, String) {
    let app = TestApp::new().await;
    let token = app.admin().await;
    (app, token)
}

async fn call(app: &TestApp, method: Method, uri: &str, key: &str, body: Option<Value>) -> Reply {
    let r = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {key}"));
    let request = match body {
        Some(b) => r.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    };
    app.send(request.unwrap()).await
}

async fn stored_subscribers(app: &TestApp, system: &str) -> usize {
    app.store.subscribers(&SystemId::parse("id", system).unwrap()).await.unwrap().len()
}

#[tokio::test]
async fn an_admin_puts_a_system_and_its_subscribers_and_reads_them_back() {
    let (app, admin) = with_admin().await;
    let system = json!({ "name": "Wiki", "owner": "Ada Lovelace", "owner_email": "Ada@Example.com" });
    let reply = call(&app, Method::PUT, "/api/systems/wiki", &admin, Some(system)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["owner_email"], "ada@example.com");

    let subscribers = json!({ "subscribers": [
        { "email": "grace@example.com", "name": "Grace" },
        { "phone": "+1 415 555 0123" },
    ]});
    let reply = call(&app, Method::PUT, "/api/systems/wiki/subscribers", &admin, Some(subscribers)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let reply = call(&app, Method::GET, "/api/systems/wiki/subscribers", &admin, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["system"]["name"], "Wiki");
    let list = body["subscribers"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().any(|s| s["email"] == "grace@example.com" && s["name"] == "Grace"));
    assert!(list.iter().any(|s| s["phone"] == "+14155550123"));
}

#[tokio::test]
async fn putting_a_subscriber_again_replaces_it_by_contact() {
    let (app, admin) = with_admin().await;
    for name in ["Grace", "Grace Hopper"] {
        let body = json!({ "subscribers": [{ "email": "grace@example.com", "name": name }] });
        let reply = call(&app, Method::PUT, "/api/systems/vpn/subscribers", &admin, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(stored_subscribers(&app, "vpn").await, 1);
}

#[tokio::test]
async fn a_write_key_without_admin_is_refused_with_403() {
    let (app, _) = with_admin().await;
    let body = json!({ "subscribers": [{ "email": "grace@example.com" }] });
    let reply = call(&app, Method::PUT, "/api/systems/vpn/subscribers", &app.writer, Some(body)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert!(reply.json()["error"].as_str().unwrap().contains("admin"));
    let reply = call(&app, Method::GET, "/api/systems/vpn/subscribers", &app.writer, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = call(&app, Method::PUT, "/api/systems/vpn", &app.writer, Some(json!({ "name": "VPN" }))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(stored_subscribers(&app, "vpn").await, 0);
}

#[tokio::test]
async fn reading_subscribers_without_a_key_is_401() {
    let app = TestApp::public().await;
    let reply = app.get("/api/systems/vpn/subscribers", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
}

#[tokio::test]
async fn an_invalid_entry_is_named_by_its_path_and_nothing_is_written() {
    let (app, admin) = with_admin().await;
    let body = json!({ "subscribers": [
        { "email": "grace@example.com" },
        { "email": "not an address" },
        { "name": "No Contact" },
        { "phone": "12" },
    ]});
    let reply = call(&app, Method::PUT, "/api/systems/vpn/subscribers", &admin, Some(body)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["subscribers[1].email", "subscribers[2].email", "subscribers[3].phone"]);
    assert_eq!(stored_subscribers(&app, "vpn").await, 0);
}

#[tokio::test]
async fn subscribers_of_an_unknown_system_are_404() {
    let (app, admin) = with_admin().await;
    let body = json!({ "subscribers": [{ "email": "grace@example.com" }] });
    let reply = call(&app, Method::PUT, "/api/systems/nope/subscribers", &admin, Some(body)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    let reply = call(&app, Method::GET, "/api/systems/nope/subscribers", &admin, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn more_than_1000_subscribers_in_one_call_are_refused_with_a_clear_message() {
    let (app, admin) = with_admin().await;
    let many: Vec<Value> = (0..1001).map(|i| json!({ "email": format!("u{i}@example.com") })).collect();
    let reply =
        call(&app, Method::PUT, "/api/systems/vpn/subscribers", &admin, Some(json!({ "subscribers": many }))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert!(reply.json()["error"].as_str().unwrap().contains("at most 1000"), "{}", reply.text());
    assert_eq!(stored_subscribers(&app, "vpn").await, 0);
}

#[tokio::test]
async fn a_system_id_that_is_not_one_is_422_naming_id() {
    let (app, admin) = with_admin().await;
    let reply = call(&app, Method::PUT, "/api/systems/bad%20id", &admin, Some(json!({ "name": "Bad" }))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["id"]);
}
