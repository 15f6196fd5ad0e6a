//! The unsubscribe link: public, signed, idempotent, and careful with what it shows and where its token goes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flare_core::UnsubscribeKey;
use flare_core::text::SystemName;
use flare_core::{EmailAddress, PhoneNumber, Subscriber, System, SystemId};
use flare_http::SessionKey;

use crate::support::{Reply, TestApp, send, split_routers};

fn id(raw: &str) -> SystemId {
    SystemId::parse("id", raw).unwrap()
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).unwrap()
}

/// Ada on VPN, Email and Payroll; Grace and a phone on VPN.
async fn with_subscribers() -> TestApp {
    let app = TestApp::new().await;
    for system in ["vpn", "email", "payroll"] {
        app.store
            .put_subscriber(&Subscriber::new(id(system), Some(email("ada@example.com")), None, None).unwrap())
            .await
            .unwrap();
    }
    app.store
        .put_subscriber(&Subscriber::new(id("vpn"), Some(email("grace@example.com")), None, None).unwrap())
        .await
        .unwrap();
    let phone = PhoneNumber::parse("phone", "+14155550123").unwrap();
    app.store.put_subscriber(&Subscriber::new(id("vpn"), None, Some(phone), None).unwrap()).await.unwrap();
    app
}

async fn contacts(app: &TestApp, system: &str) -> Vec<String> {
    app.store.subscribers(&id(system)).await.unwrap().iter().map(Subscriber::contact_key).collect()
}

fn link(key: &UnsubscribeKey, address: &str, systems: &[&str]) -> String {
    let systems: Vec<SystemId> = systems.iter().map(|s| id(s)).collect();
    format!("/unsubscribe/{}", key.sign(&email(address), &systems))
}

fn assert_private(reply: &Reply) {
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    assert!(reply.header("content-type").unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn a_valid_link_removes_the_address_from_the_named_systems_only() {
    let app = with_subscribers().await;
    let reply = app.get(&link(&app.unsubscribe, "ada@example.com", &["vpn", "email"]), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("<strong>ada@example.com</strong> will no longer get Flare notifications about VPN and Email."),
        "{}",
        reply.text()
    );
    assert_eq!(contacts(&app, "vpn").await, ["email:grace@example.com", "phone:+14155550123"]);
    assert!(contacts(&app, "email").await.is_empty());
    assert_eq!(contacts(&app, "payroll").await, ["email:ada@example.com"], "a system not in the link keeps her");
}

#[tokio::test]
async fn a_second_visit_shows_the_same_page() {
    let app = with_subscribers().await;
    let uri = link(&app.unsubscribe, "ada@example.com", &["vpn"]);
    let first = app.get(&uri, None).await;
    let second = app.get(&uri, None).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    assert_eq!(first.text(), second.text());
}

#[tokio::test]
async fn the_page_is_neither_cached_nor_a_referrer() {
    let app = with_subscribers().await;
    let reply = app.get(&link(&app.unsubscribe, "ada@example.com", &["vpn"]), None).await;
    assert_private(&reply);
    let refused = app.get("/unsubscribe/nonsense", None).await;
    assert_private(&refused);
}

#[tokio::test]
async fn a_tampered_link_is_400_and_removes_nothing() {
    let app = with_subscribers().await;
    let uri = link(&app.unsubscribe, "ada@example.com", &["vpn"]);
    let (payload, tag) = uri.split_once('.').unwrap();
    let flipped = if tag.starts_with('A') { tag.replacen('A', "B", 1) } else { format!("A{}", &tag[1..]) };
    for bad in [format!("{payload}.{flipped}"), format!("{}x.{tag}", payload), payload.to_string()] {
        let reply = app.get(&bad, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.text());
        assert!(reply.text().contains("not valid"), "{}", reply.text());
        assert!(reply.text().contains("ask the help desk"), "{}", reply.text());
    }
    assert_eq!(contacts(&app, "vpn").await.len(), 3);
}

#[tokio::test]
async fn a_link_signed_with_another_key_is_400() {
    let app = with_subscribers().await;
    let other = SessionKey::from_bytes(&[7; 32]).unwrap().unsubscribe_key();
    let reply = app.get(&link(&other, "ada@example.com", &["vpn"]), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(contacts(&app, "vpn").await.len(), 3);
}

#[tokio::test]
async fn a_link_naming_no_system_explains_and_removes_nothing() {
    let app = with_subscribers().await;
    let reply = app.get(&link(&app.unsubscribe, "ada@example.com", &[]), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().contains("because it was named on the incident"), "{}", reply.text());
    assert_eq!(contacts(&app, "vpn").await.len(), 3);
    assert_eq!(contacts(&app, "payroll").await.len(), 1);
}

#[tokio::test]
async fn a_system_name_with_markup_is_escaped() {
    let app = with_subscribers().await;
    let evil = System {
        id: id("evil"),
        name: SystemName::parse("name", "<script>alert(1)</script>").unwrap(),
        owner: None,
        owner_email: None,
    };
    app.store.put_system(&evil).await.unwrap();
    let reply = app.get(&link(&app.unsubscribe, "ada@example.com", &["evil"]), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!reply.text().contains("<script>"), "{}", reply.text());
    assert!(reply.text().contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "shown, escaped: {}", reply.text());
}

#[tokio::test]
async fn a_system_gone_from_the_catalog_is_named_by_its_id() {
    let app = with_subscribers().await;
    let reply = app.get(&link(&app.unsubscribe, "ada@example.com", &["payroll", "retired"]), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.text().contains("about Payroll and retired."), "{}", reply.text());
}

#[tokio::test]
async fn the_dashboard_router_serves_the_link_and_the_intake_router_does_not() {
    let (_app, intake, dashboard) = split_routers().await;
    let get = || Request::get("/unsubscribe/nonsense").body(Body::empty()).unwrap();
    assert_eq!(send(&dashboard, get()).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(send(&intake, get()).await.status, StatusCode::NOT_FOUND);
}
