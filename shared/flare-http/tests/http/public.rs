//! Public mode: anonymous readers see what happened and when, never who or where it is tracked. Staff (a key or a
//! session) see everything under the same addresses. Reads are answered from kept answers that a write through
//! the API makes afresh.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use flare_core::text::{ExternalId, Line, PersonName, SystemName};
use flare_core::{Actor, Command, ExternalTicket, IncidentService, LinkTicket, System, SystemId, TicketNumber};
use serde_json::json;

use crate::support::{NOW, TestApp};

/// What only staff may read, each planted in the incident below: the engineer and their address, an address to
/// notify, the reporter (the key's name), the ticket's key and link, the root cause, a follow-up, the system's
/// owner and their address.
const INTERNAL: &[&str] = &[
    "Grace Hopper",
    "grace@corp.example",
    "cio@corp.example",
    "Zabbix Production",
    "SNOW0042017",
    "tickets.corp.example",
    "expired intermediate certificate",
    "Rotate the VPN certificates",
    "Network Team Lead",
    "netlead@corp.example",
];

/// A public app with one resolved incident carrying every internal field, and its ticket.
async fn planted() -> (TestApp, String) {
    let app = TestApp::public().await;
    app.store
        .put_system(&System {
            id: SystemId::parse("id", "vpn").unwrap(),
            name: SystemName::parse("name", "Remote access VPN").unwrap(),
            owner: Some(PersonName::parse("owner", "Network Team Lead").unwrap()),
            owner_email: Some(flare_core::EmailAddress::parse("owner_email", "netlead@corp.example").unwrap()),
        })
        .await
        .unwrap();
    let (key, token) = flare_core::ApiKey::generate(
        PersonName::parse("name", "Zabbix Production").unwrap(),
        vec![flare_core::Scope::IncidentsWrite],
        NOW,
    );
    app.store.create_api_key(&key).await.unwrap();
    let call = |method: Method, uri: String, body: serde_json::Value| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let open = json!({
        "title": "VPN down",
        "description": "Nobody can connect from home.",
        "severity": "sev1",
        "systems": [{"system": "vpn", "impact": "major_outage"}],
        "engineer": "Grace Hopper",
        "engineer_email": "grace@corp.example",
        "notify_emails": ["cio@corp.example"],
    });
    let opened = app.send(call(Method::POST, "/api/incidents".into(), open)).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let ticket = opened.json()["ticket"].as_str().unwrap().to_owned();
    let follow = json!({"follow_ups": ["Rotate the VPN certificates (owner: Linus, due 2026-12-01)"]});
    let patched = app.send(call(Method::PATCH, format!("/api/incidents/{ticket}"), follow)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    // The dispatcher links the ticket it opened: a command of its own, outside the HTTP API.
    let service = IncidentService::new(app.store.clone(), app.clock.clone());
    let external = ExternalTicket {
        system: Line::parse("system", "servicenow").unwrap(),
        key: ExternalId::parse("key", "SNOW0042017").unwrap(),
        url: Some(Line::parse("url", "https://tickets.corp.example/nav_to.do?number=SNOW0042017").unwrap()),
    };
    let number = TicketNumber::parse("ticket", &ticket).unwrap();
    service
        .execute(Command::LinkTicket(LinkTicket { ticket: number, external }), &Actor::system("dispatcher"), None)
        .await
        .unwrap();
    let resolve = json!({"root_cause": "An expired intermediate certificate on the VPN concentrator."});
    let resolved = app.send(call(Method::POST, format!("/api/incidents/{ticket}/resolve"), resolve)).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text());
    (app, ticket)
}

/// Every read a public reader can make that shows the incident or the catalog.
fn reads(ticket: &str) -> Vec<String> {
    vec![
        "/api/incidents?from=2026-11-01&to=2026-12-01".into(),
        format!("/api/incidents/{ticket}"),
        "/api/systems".into(),
        "/api/availability".into(),
        "/history.atom".into(),
        "/".into(),
        "/?range=30d&day=2026-11-22".into(),
        format!("/incidents/{ticket}"),
    ]
}

#[tokio::test]
async fn no_internal_field_appears_in_any_answer_a_public_reader_gets() {
    let (app, ticket) = planted().await;
    for uri in reads(&ticket) {
        let reply = app.get(&uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        assert!(reply.text().contains("VPN"), "{uri} does not show the incident or system at all");
        for secret in INTERNAL {
            assert!(!reply.text().contains(secret), "{uri} shows {secret:?} to the public:\n{}", reply.text());
        }
    }
}

#[tokio::test]
async fn staff_see_the_internal_fields_under_the_same_addresses() {
    let (app, ticket) = planted().await;
    let detail = app.get(&format!("/api/incidents/{ticket}"), Some(&app.reader)).await.text();
    let systems = app.get("/api/systems", Some(&app.reader)).await.text();
    let seen = format!("{detail}{systems}");
    for shown in ["Grace Hopper", "Zabbix Production", "SNOW0042017", "expired intermediate certificate"] {
        assert!(seen.contains(shown), "staff do not see {shown:?}");
    }
    assert!(systems.contains("Network Team Lead"));
}

#[tokio::test]
async fn a_public_timeline_says_what_kind_of_caller_acted_but_not_who() {
    let (app, ticket) = planted().await;
    let detail = app.get(&format!("/api/incidents/{ticket}"), None).await.json();
    let timeline = detail["timeline"].as_array().unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // The ticket's link is an internal event as a whole; the follow-up change leaves an empty update out too.
    assert_eq!(kinds, ["opened", "resolved"]);
    assert_eq!(timeline[0]["actor"], json!({"kind": "api_key", "name": "An integration"}));
    let fields: Vec<&str> =
        timeline.iter().flat_map(|e| e["changes"].as_array().unwrap()).map(|c| c["field"].as_str().unwrap()).collect();
    assert!(!fields.contains(&"root_cause") && !fields.contains(&"external"), "{fields:?}");
}

#[tokio::test]
async fn public_json_leaves_the_internal_fields_out_rather_than_empty() {
    let (app, ticket) = planted().await;
    let detail = app.get(&format!("/api/incidents/{ticket}"), None).await.json();
    for field in ["engineer", "reporter", "ticket_url", "root_cause", "follow_ups"] {
        assert!(detail.get(field).is_none(), "{field} is in the public answer");
    }
    assert_eq!(detail["duration"], json!(0), "what happened and when is public");
}

#[tokio::test]
async fn an_invalid_key_is_refused_even_when_reads_are_public() {
    let app = TestApp::public().await;
    let reply = app.get("/api/incidents", Some("not-a-key")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
}

#[tokio::test]
async fn without_public_reads_the_page_and_the_json_need_a_key_or_a_session() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/incidents", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/availability", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/history.atom", None).await.status, StatusCode::UNAUTHORIZED);
    let page = app.get("/", None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header("location"), Some("/login?next=%2F"));
    assert_eq!(app.get("/", Some(&app.reader)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_shared_cache_may_keep_public_answers_but_never_staff_ones() {
    let app = TestApp::with(|c| {
        c.public_reads = true;
        c.shared_cache_secs = 15;
    })
    .await;
    for uri in ["/api/incidents", "/", "/history.atom", "/api/availability"] {
        let public = app.get(uri, None).await;
        assert_eq!(
            public.header("cache-control"),
            Some("public, max-age=0, s-maxage=15, stale-while-revalidate=15, stale-if-error=300"),
            "{uri}"
        );
        assert_eq!(public.header("vary"), Some("authorization, cookie"), "{uri}");
        let staff = app.get(uri, Some(&app.reader)).await;
        assert_eq!(staff.header("cache-control"), Some("private, no-cache"), "{uri}");
    }
}

#[tokio::test]
async fn a_write_through_the_api_is_in_the_very_next_read() {
    let app = TestApp::public().await;
    let before = app.get("/api/incidents", None).await;
    assert_eq!(before.json()["incidents"].as_array().unwrap().len(), 0);
    let ticket = app.open("VPN down").await;
    let after = app.get("/api/incidents", None).await;
    assert_eq!(after.json()["incidents"][0]["ticket"], ticket);
    assert_ne!(before.header("etag"), after.header("etag"));
}

#[tokio::test]
async fn a_repeated_read_revalidates_to_a_304_from_the_kept_answer() {
    let app = TestApp::public().await;
    app.open("VPN down").await;
    let first = app.get("/api/incidents", None).await;
    let etag = first.header("etag").unwrap().to_owned();
    let again = app
        .send(Request::get("/api/incidents").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap())
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn a_public_incident_page_offers_no_way_to_change_it() {
    let (app, ticket) = planted().await;
    let page = app.get(&format!("/incidents/{ticket}"), None).await.text();
    assert!(!page.contains("/form?ticket="), "{page}");
    let staff = app.get(&format!("/incidents/{ticket}"), Some(&app.reader)).await.text();
    assert!(staff.contains("/form?ticket="));
}
