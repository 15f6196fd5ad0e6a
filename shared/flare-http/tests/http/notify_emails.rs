//! The engineer's address and the addresses listed to be told: written through the API and the form, kept, and
//! never shown to readers.

use axum::http::{Method, StatusCode};
use flare_core::EmailAddress;
use serde_json::{Value, json};

use crate::support::{ALL, TestApp, hidden, open_body};

fn emails(list: &[&str]) -> Vec<EmailAddress> {
    list.iter().map(|e| EmailAddress::parse("email", e).unwrap()).collect()
}

fn with_addresses(title: &str, engineer_email: &str, notify_emails: &[&str]) -> Value {
    let mut body = open_body(title);
    body["engineer_email"] = json!(engineer_email);
    body["notify_emails"] = json!(notify_emails);
    body
}

/// Opens an incident with the engineer's and two listed addresses; its ticket.
async fn open_with_addresses(app: &TestApp) -> String {
    let body = with_addresses("VPN down", "Grace@Example.com", &["boss@example.com", "vendor@example.net"]);
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["ticket"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_engineers_email_and_listed_addresses_are_kept_on_open_and_replaced_by_patch() {
    let app = TestApp::new().await;
    let ticket = open_with_addresses(&app).await;
    let incident = app.incident(&ticket).await.unwrap();
    assert_eq!(incident.engineer_email, emails(&["grace@example.com"]).pop());
    assert_eq!(incident.notify_emails, emails(&["boss@example.com", "vendor@example.net"]));

    let patch = json!({ "engineer_email": "linus@example.com", "notify_emails": ["cio@example.com"] });
    let reply = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), patch).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let incident = app.incident(&ticket).await.unwrap();
    assert_eq!(incident.engineer_email, emails(&["linus@example.com"]).pop());
    assert_eq!(incident.notify_emails, emails(&["cio@example.com"]));
}

#[tokio::test]
async fn a_patch_without_the_fields_keeps_them_and_an_empty_list_clears_the_list() {
    let app = TestApp::new().await;
    let ticket = open_with_addresses(&app).await;
    let uri = format!("/api/incidents/{ticket}");
    app.write(Method::PATCH, &uri, json!({ "severity": "sev1" })).await;
    assert_eq!(app.incident(&ticket).await.unwrap().notify_emails.len(), 2);
    let reply = app.write(Method::PATCH, &uri, json!({ "notify_emails": [] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let incident = app.incident(&ticket).await.unwrap();
    assert!(incident.notify_emails.is_empty());
    assert_eq!(incident.engineer_email, emails(&["grace@example.com"]).pop());
}

#[tokio::test]
async fn the_addresses_appear_in_no_answer_a_reader_or_a_writer_sees() {
    let app = TestApp::public().await;
    let body = with_addresses("VPN down", "grace@example.com", &["boss@example.com"]);
    let opened = app.write(Method::POST, "/api/incidents", body).await;
    let ticket = opened.json()["ticket"].as_str().unwrap().to_string();
    let patch = json!({ "engineer_email": "linus@example.com", "notify_emails": ["cio@example.com"] });
    let patched = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), patch).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());

    let list = app.get(ALL, Some(&app.reader)).await;
    let detail = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await;
    let page = app.get(&format!("/incidents/{ticket}"), Some(&app.reader)).await;
    assert_eq!(list.json()["incidents"].as_array().unwrap().len(), 1);
    for reply in [&opened, &patched, &list, &detail, &page] {
        assert!(reply.status.is_success(), "{}", reply.text());
        assert!(!reply.text().contains("example.com"), "an address leaked: {}", reply.text());
    }
    let incident = &list.json()["incidents"][0];
    assert!(incident.get("engineer_email").is_none() && incident.get("notify_emails").is_none());
    let changes = &detail.json()["timeline"][1]["changes"];
    let change = changes.as_array().unwrap().iter().find(|c| c["field"] == "notify_emails").unwrap();
    assert_eq!(change["to"], "(hidden)", "the timeline says it changed, not to what");
}

#[tokio::test]
async fn a_bad_listed_address_is_422_naming_its_index() {
    let app = TestApp::new().await;
    let body = with_addresses("VPN down", "grace@example.com", &["a@example.com", "b@example.com", "not an address"]);
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["notify_emails[2]"]);
}

#[tokio::test]
async fn a_bad_engineers_email_is_422_naming_it_on_open_and_on_patch() {
    let app = TestApp::new().await;
    let reply = app.write(Method::POST, "/api/incidents", with_addresses("VPN down", "grace", &[])).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["engineer_email"]);
    let ticket = app.open("VPN down").await;
    let patch = json!({ "engineer_email": "", "notify_emails": ["ok@example.com", "@"] });
    let reply = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), patch).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["engineer_email", "notify_emails[1]"]);
}

#[tokio::test]
async fn more_than_20_listed_addresses_are_422_and_nothing_is_written() {
    let app = TestApp::new().await;
    let many: Vec<String> = (0..21).map(|i| format!("u{i}@example.com")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let reply = app.write(Method::POST, "/api/incidents", with_addresses("VPN down", "g@example.com", &many)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["notify_emails"]);
    assert!(reply.json()["error"].as_str().unwrap().contains("at most 20"), "{}", reply.text());
    assert_eq!(app.get(ALL, Some(&app.reader)).await.json()["incidents"], json!([]));

    let ticket = app.open("VPN down").await;
    let reply = app.write(Method::PATCH, &format!("/api/incidents/{ticket}"), json!({ "notify_emails": many })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["notify_emails"]);
}

#[tokio::test]
async fn an_address_listed_twice_is_422() {
    let app = TestApp::new().await;
    let body = with_addresses("VPN down", "g@example.com", &["a@example.com", "A@example.com"]);
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.fields(), ["notify_emails"]);
}

#[tokio::test]
async fn a_listed_address_that_is_not_a_string_names_its_index() {
    let app = TestApp::new().await;
    let mut body = open_body("VPN down");
    body["notify_emails"] = json!(["a@example.com", 7]);
    let reply = app.write(Method::POST, "/api/incidents", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.fields(), ["notify_emails[1]"]);
}

#[tokio::test]
async fn the_form_takes_the_engineers_email_and_addresses_one_per_line_or_comma() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (html, csrf) = browser.form(&app).await;
    assert!(html.contains("id=\"open-notify_emails\"") && html.contains("id=\"update-notify_emails\""));
    let key = hidden(&html, "idempotency_key");
    let fields = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("title", "VPN down"),
        ("description", "Nobody can connect."),
        ("severity", "sev2"),
        ("engineer_email", "grace@example.com"),
        ("notify_emails", "boss@example.com, cio@example.com\r\nvendor@example.net\r\n"),
    ];
    let reply = browser.post(&app, "/form/open", &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let location = reply.header("location").unwrap();
    let ticket = location.trim_start_matches("/incidents/").split('?').next().unwrap().to_string();
    let incident = app.incident(&ticket).await.unwrap();
    assert_eq!(incident.engineer_email, emails(&["grace@example.com"]).pop());
    assert_eq!(incident.notify_emails, emails(&["boss@example.com", "cio@example.com", "vendor@example.net"]));

    let fields = [("csrf", csrf.as_str()), ("ticket", ticket.as_str()), ("notify_emails", "none")];
    let reply = browser.post(&app, "/form/update", &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert!(app.incident(&ticket).await.unwrap().notify_emails.is_empty(), "none empties the list");
}

#[tokio::test]
async fn a_bad_address_in_the_form_is_shown_beside_the_box_with_the_input_kept() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    let ticket = app.open("VPN down").await;
    let fields = [("csrf", csrf.as_str()), ("ticket", ticket.as_str()), ("notify_emails", "boss@example.com\nnope")];
    let reply = browser.post(&app, "/form/update", &fields).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    let html = reply.text();
    assert!(html.contains("id=\"update-notify_emails-error\">Entry 2 must be an email address"), "{html}");
    assert!(html.contains(">boss@example.com\nnope</textarea>"), "{html}");
}
