//! Follow-up actions, each with an owner and a due date, recorded through the API and the form and read back as
//! JSON; what the post-incident report lists, or prompts for while it is empty.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, hidden};

#[tokio::test]
async fn follow_ups_with_an_owner_and_a_due_date_are_recorded_through_the_api() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let patch = json!({ "follow_ups": [
        "Document the failover",
        { "action": "Add a second gateway", "owner": "Grace Hopper", "due": "2026-12-15" }
    ]});

    let reply = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), patch).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let detail = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await.json();
    assert_eq!(
        detail["follow_ups"],
        json!([
            { "action": "Document the failover", "owner": null, "due": null },
            { "action": "Add a second gateway", "owner": "Grace Hopper", "due": "2026-12-15" }
        ])
    );
}

#[tokio::test]
async fn a_follow_up_with_an_unreadable_due_date_is_refused_naming_its_entry() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let patch = json!({ "follow_ups": [{ "action": "Add a second gateway", "due": "15/12/2026" }] });

    let reply = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), patch).await;

    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    let text = reply.text();
    assert!(
        text.contains("follow_ups[0]") && text.contains("a due date that must be a date like 2026-12-31"),
        "{text}"
    );
}

#[tokio::test]
async fn the_form_records_follow_ups_one_a_line_with_owner_and_due_date() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let mut browser = app.signed_in("ada").await;
    let (html, csrf) = browser.form(&app).await;
    assert!(html.contains(r#"name="follow_ups""#), "the update section asks for follow-ups");
    let key = hidden(&html, "idempotency_key");

    let reply = browser
        .post(
            &app,
            "/form/update",
            &[
                ("csrf", &csrf),
                ("idempotency_key", &key),
                ("ticket", &ticket),
                ("follow_ups", "Add a second gateway; Grace Hopper; 2026-12-15\r\n\r\nDocument the failover\r\n"),
                ("tz_offset", "+00:00"),
            ],
        )
        .await;

    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let detail = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await.json();
    assert_eq!(
        detail["follow_ups"],
        json!([
            { "action": "Add a second gateway", "owner": "Grace Hopper", "due": "2026-12-15" },
            { "action": "Document the failover", "owner": null, "due": null }
        ])
    );
}
