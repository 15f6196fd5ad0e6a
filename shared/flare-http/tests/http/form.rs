//! The intake form, end to end: sign in, open, update and close through the pages, then read it all back as
//! JSON. Also: errors beside their fields, double submits, and escaping.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Browser, TestApp, hidden};

/// The fields of a valid open post.
fn open_fields<'a>(csrf: &'a str, key: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("idempotency_key", key),
        ("title", title),
        ("description", "Nobody can connect from home."),
        ("severity", "sev2"),
        ("engineer", "Grace Hopper"),
        ("impact.vpn", "major_outage"),
        ("impact.email", ""),
        ("impact.payroll", ""),
        ("started_at", "2026-11-22T10:30"),
        ("tz_offset", "+01:00"),
        ("notify", "on"),
    ]
}

async fn open_through_the_form(app: &TestApp, browser: &mut Browser, title: &str) -> String {
    let (html, csrf) = browser.form(app).await;
    let key = hidden(&html, "idempotency_key");
    let reply = browser.post(app, "/form/open", &open_fields(&csrf, &key, title)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let location = reply.header("location").unwrap().to_string();
    location.trim_start_matches("/incidents/").split('?').next().unwrap().to_string()
}

#[tokio::test]
async fn an_agent_opens_updates_and_closes_an_incident_through_the_form() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;

    let (html, csrf) = browser.form(&app).await;
    let key = hidden(&html, "idempotency_key");
    let opened = browser.post(&app, "/form/open", &open_fields(&csrf, &key, "VPN down")).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text());
    let location = opened.header("location").unwrap().to_string();
    assert!(location.ends_with("?done=opened"), "{location}");
    let ticket = location.trim_start_matches("/incidents/").split('?').next().unwrap().to_string();

    let result = browser.get(&app, &location).await;
    assert_eq!(result.status, StatusCode::OK);
    let page = result.text();
    assert!(page.contains(&format!("<strong>{ticket}</strong> was opened")), "{page}");
    assert!(page.contains(&format!("href=\"/api/incidents/{ticket}\"")));

    let updated = browser
        .post(
            &app,
            "/form/update",
            &[
                ("csrf", &csrf),
                ("idempotency_key", "upd-1"),
                ("ticket", &ticket.to_lowercase()),
                ("status", "identified"),
                ("severity", ""),
                ("impact.email", "degraded"),
                ("impact.vpn", ""),
                ("message", "The tunnel's certificate expired."),
                ("tz_offset", "+00:00"),
            ],
        )
        .await;
    assert_eq!(updated.status, StatusCode::SEE_OTHER, "{}", updated.text());

    let closed = browser
        .post(
            &app,
            "/form/close",
            &[
                ("csrf", &csrf),
                ("idempotency_key", "close-1"),
                ("ticket", &ticket),
                ("message", "Certificate renewed; everyone is back."),
                ("resolved_at", "2026-11-22T12:45"),
                ("tz_offset", "+01:00"),
                ("notify", "on"),
            ],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.text());
    assert!(closed.header("location").unwrap().ends_with("?done=resolved"));

    let detail = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await.json();
    assert_eq!(detail["status"], "resolved");
    assert_eq!(detail["started_at"], "2026-11-22T09:30:00Z");
    assert_eq!(detail["resolved_at"], "2026-11-22T11:45:00Z");
    assert_eq!(detail["duration"], 8100);
    assert_eq!(detail["engineer"], "Grace Hopper");
    assert_eq!(
        detail["systems"],
        json!([{"system": "vpn", "impact": "major_outage"}, {"system": "email", "impact": "degraded"}])
    );
    let timeline = detail["timeline"].as_array().unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opened", "updated", "resolved"]);
    assert!(
        timeline.iter().all(|e| e["actor"] == json!({"kind": "user", "name": "ada (test)"})),
        "sign-in names stay private"
    );
    assert_eq!(timeline[1]["message"], "The tunnel's certificate expired.");
    assert_eq!(timeline[2]["notify"], true);
}

#[tokio::test]
async fn the_form_has_three_sections_with_labels_and_no_script() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (html, _) = browser.form(&app).await;
    for anchor in ["id=\"open\"", "id=\"update\"", "id=\"close\"", "href=\"#update\"", "<fieldset>", "<legend>"] {
        assert!(html.contains(anchor), "missing {anchor}");
    }
    for field in ["open-title", "open-severity", "open-engineer", "open-impact-vpn", "update-ticket", "close-message"] {
        assert!(html.contains(&format!("<label for=\"{field}\"")), "{field} has no label");
    }
    assert!(html.contains("value=\"2026-11-22T12:00\""), "the start time defaults to now");
    assert!(!html.contains("<script"));
}

#[tokio::test]
async fn a_double_submit_opens_one_incident() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (html, csrf) = browser.form(&app).await;
    let key = hidden(&html, "idempotency_key");
    let first = browser.post(&app, "/form/open", &open_fields(&csrf, &key, "VPN down")).await;
    let second = browser.post(&app, "/form/open", &open_fields(&csrf, &key, "VPN down")).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.header("location"), second.header("location"));
    let list = app.get(crate::support::ALL, Some(&app.reader)).await.json();
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn form_errors_are_shown_beside_their_fields_with_the_input_kept() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (html, csrf) = browser.form(&app).await;
    let key = hidden(&html, "idempotency_key");
    let mut fields = open_fields(&csrf, &key, "");
    fields.retain(|(k, _)| *k != "severity");
    fields.push(("severity", "urgent"));
    fields.retain(|(k, _)| *k != "started_at");
    fields.push(("started_at", "tomorrow-ish"));
    let reply = browser.post(&app, "/form/open", &fields).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = reply.text();
    assert!(page.contains("id=\"open-title-error\">This field is required"), "{page}");
    assert!(page.contains("id=\"open-severity-error\">This field must be one of sev1, sev2, sev3, sev4"));
    assert!(page.contains("id=\"open-started_at-error\">This field must be a date and time"));
    assert!(page.contains("value=\"Grace Hopper\""), "the engineer is kept");
    assert!(page.contains(">Nobody can connect from home.</textarea>"), "the description is kept");
    assert!(page.contains("<option value=\"major_outage\" selected>"), "the impact is kept");
    assert_eq!(hidden(&page, "idempotency_key"), key, "a corrected resubmit keeps its token");
    assert_eq!(app.get(crate::support::ALL, Some(&app.reader)).await.json()["incidents"], json!([]));
}

#[tokio::test]
async fn an_update_of_an_unknown_ticket_is_shown_beside_the_ticket_field() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    let fields = [("csrf", csrf.as_str()), ("ticket", "INC-404"), ("status", "monitoring")];
    let reply = browser.post(&app, "/form/update", &fields).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains("id=\"update-ticket-error\">This field names no incident INC-404"));
}

#[tokio::test]
async fn a_malformed_ticket_number_is_shown_beside_its_field() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    let reply =
        browser.post(&app, "/form/close", &[("csrf", csrf.as_str()), ("ticket", "1042"), ("message", "")]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = reply.text();
    assert!(page.contains("id=\"close-ticket-error\">This field must be a ticket number like INC-1042"), "{page}");
    assert!(page.contains("id=\"close-message-error\">This field is required"));
}

#[tokio::test]
async fn closing_a_closed_incident_explains_why_above_the_section() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let ticket = open_through_the_form(&app, &mut browser, "VPN down").await;
    let (_, csrf) = browser.form(&app).await;
    let close = |key: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("idempotency_key", key.to_string()),
            ("ticket", ticket.clone()),
            ("message", "Fixed".into()),
        ]
    };
    let first: Vec<(&str, String)> = close("c-1");
    let first: Vec<(&str, &str)> = first.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(browser.post(&app, "/form/close", &first).await.status, StatusCode::SEE_OTHER);
    let again: Vec<(&str, String)> = close("c-2");
    let again: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = browser.post(&app, "/form/close", &again).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("is resolved: it is already resolved"), "{}", reply.text());
}

#[tokio::test]
async fn a_script_in_a_title_is_escaped_on_the_incident_page() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let ticket = open_through_the_form(&app, &mut browser, "<script>alert(1)</script>").await;
    let page = browser.get(&app, &format!("/incidents/{ticket}?done=opened")).await.text();
    assert!(!page.contains("<script>alert(1)</script>"), "{page}");
    assert!(page.contains("alert(1)"), "the title is shown, escaped");
    let json = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await.json();
    assert_eq!(json["title"], "<script>alert(1)</script>", "JSON keeps the text as typed");
}

#[tokio::test]
async fn a_script_in_a_rejected_form_is_escaped_when_shown_again() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (_, csrf) = browser.form(&app).await;
    let fields = [("csrf", csrf.as_str()), ("title", "\"><script>alert(1)</script>"), ("severity", "sev9")];
    let reply = browser.post(&app, "/form/open", &fields).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!reply.text().contains("<script>alert(1)"));
}

#[tokio::test]
async fn the_incident_page_sends_a_visitor_to_sign_in_when_reads_are_private() {
    let app = TestApp::new().await;
    let ticket = app.open("VPN down").await;
    let reply = Browser::default().get(&app, &format!("/incidents/{ticket}")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some(format!("/login?next=%2Fincidents%2F{ticket}").as_str()));
}

#[tokio::test]
async fn a_form_link_prefills_the_ticket() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let html = browser.get(&app, "/form?ticket=INC-7").await.text();
    assert!(html.contains("id=\"update-ticket\" name=\"ticket\" value=\"INC-7\""));
}

#[tokio::test]
async fn the_form_offers_every_catalog_system_with_an_impact_in_the_open_and_update_sections() {
    let app = TestApp::new().await;
    let mut browser = app.signed_in("ada").await;
    let (html, _) = browser.form(&app).await;
    for section in ["open", "update"] {
        for system in ["vpn", "email", "payroll"] {
            let select = format!(r#"<select id="{section}-impact-{system}" name="impact.{system}""#);
            assert!(html.contains(&select), "no {select} in the form");
            let label = format!(r#"<label for="{section}-impact-{system}">"#);
            assert!(html.contains(&label), "{section}-impact-{system} has no label");
        }
    }
    assert!(html.contains(r#"<option value="major_outage">"#));
}
