//! The admins' view of the delivery ledger: who was told of which event, how, and who refused.

use axum::http::StatusCode;
use flare_core::{Delivery, DeliveryChannel, Refused, TicketNumber};
use serde_json::json;
use time::Duration;

use crate::support::{NOW, TestApp};

fn delivery(ticket: &str, seq: u64, channel: DeliveryChannel, batch: u32, sent: &[&str], refused: &[&str]) -> Delivery {
    Delivery {
        ticket: TicketNumber::parse("ticket", ticket).unwrap(),
        seq,
        channel,
        batch,
        at: NOW + Duration::minutes(i64::from(batch)),
        sent: sent.iter().map(ToString::to_string).collect(),
        refused: refused
            .iter()
            .map(|to| Refused { to: (*to).to_string(), reason: "mailbox does not exist".into() })
            .collect(),
        calls: 1 + u32::from(!refused.is_empty()),
    }
}

fn uri(ticket: &str) -> String {
    format!("/api/incidents/{ticket}/deliveries")
}

#[tokio::test]
async fn an_admin_sees_every_delivery_recorded_with_its_event_and_totals_per_channel() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let records = [
        delivery(&ticket, 1, DeliveryChannel::Email, 1, &["a@example.com", "b@example.com"], &["gone@example.com"]),
        delivery(&ticket, 1, DeliveryChannel::Email, 2, &["c@example.com"], &[]),
        delivery(&ticket, 1, DeliveryChannel::Ticket, 1, &["SN-42"], &[]),
    ];
    for record in &records {
        app.store.record_delivery(record).await.unwrap();
    }
    let admin = app.admin().await;
    let reply = app.get(&uri(&ticket), Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("private, no-store"));
    let body = reply.json();
    assert_eq!(body["ticket"], ticket.as_str());
    let list = body["deliveries"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list[0],
        json!({
            "seq": 1, "event": "opened", "channel": "email", "batch": 1, "at": "2026-11-22T12:01:00Z",
            "sent": ["a@example.com", "b@example.com"],
            "refused": [{"to": "gone@example.com", "reason": "mailbox does not exist"}],
            "calls": 2,
        })
    );
    assert_eq!(body["totals"]["email"], json!({"sent": 3, "refused": 1, "batches": 2, "calls": 3}));
    assert_eq!(body["totals"]["ticket"], json!({"sent": 1, "refused": 0, "batches": 1, "calls": 1}));
    assert_eq!(body["totals"]["message"], json!({"sent": 0, "refused": 0, "batches": 0, "calls": 0}));
}

#[tokio::test]
async fn an_incident_without_deliveries_lists_none() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let reply = app.get(&uri(&ticket), Some(&app.admin().await)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["deliveries"], json!([]));
}

#[tokio::test]
async fn deliveries_without_a_key_are_401() {
    let app = TestApp::public().await;
    let ticket = app.open("VPN down").await;
    let reply = app.get(&uri(&ticket), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
}

#[tokio::test]
async fn deliveries_with_a_key_that_is_not_admin_are_403() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    for key in [&app.writer, &app.reader] {
        let reply = app.get(&uri(&ticket), Some(key)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        assert!(reply.json()["error"].as_str().unwrap().contains("admin"));
    }
}

#[tokio::test]
async fn deliveries_of_an_unknown_ticket_are_404() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for ticket in ["INC-404", "not-a-ticket"] {
        let reply = app.get(&uri(ticket), Some(&admin)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{ticket}: {}", reply.text());
    }
}
