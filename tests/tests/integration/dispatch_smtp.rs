//! Dispatch self-hosted, end to end: incidents opened and resolved through the same router `flare serve` runs,
//! on SQLite, delivered by the worker that drains SQLite's dispatch queue, through the SMTP mailer to the real
//! SMTP sink. A recipient then follows their unsubscribe link, and hears nothing more.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use flare_core::text::{PersonName, SystemName};
use flare_core::{
    AccessStore, ApiKey, CatalogStore, EmailAddress, IncidentService, LedgerStore, Scope, Subscriber, System,
    TicketNumber,
};
use flare_core::{Channels, Dispatcher, Links, NOTICE};
use flare_embedded::{Drained, SqliteStore, Worker};
use flare_http::{AppState, HttpConfig};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::notify_smtp::{mailer, received, tag};
use crate::support::{self, NOW, TestClock};

struct Site {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: Router,
    worker: Worker,
    token: String,
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("flare.db")).unwrap());
    let clock = Arc::new(TestClock::at(NOW));
    let service = IncidentService::new(store.clone(), clock.clone());
    let (key, token) =
        ApiKey::generate(PersonName::parse("name", "monitoring").unwrap(), vec![Scope::IncidentsWrite], NOW);
    store.create_api_key(&key).await.unwrap();
    let config = HttpConfig::default();
    let unsubscribe = config.session_key.unsubscribe_key();
    let app = flare_http::app(AppState::new(service.clone(), config));
    let smtp = mailer();
    smtp.register_template(NOTICE.name, NOTICE.subject, NOTICE.html, NOTICE.text);
    let channels = Channels { mailer: Some(Arc::new(smtp)), ..Channels::default() };
    let dispatcher = Dispatcher::new(service, channels, Links::new("http://flare.test", unsubscribe));
    let worker = Worker::new(store.clone(), dispatcher, clock);
    Site { _dir: dir, store, app, worker, token }
}

impl Site {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut request =
            Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {}", self.token));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self.app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn subscribe(&self, system: &str, name: &str, people: &[String]) {
        let system = System {
            id: support::system(system),
            name: SystemName::parse("name", name).unwrap(),
            owner: None,
            owner_email: None,
        };
        self.store.put_system(&system).await.unwrap();
        for person in people {
            let email = EmailAddress::parse("email", person).unwrap();
            self.store
                .put_subscriber(&Subscriber::new(system.id.clone(), Some(email), None, None).unwrap())
                .await
                .unwrap();
        }
    }
}

/// A received message with its quoted-printable soft line breaks and `=3D` undone: enough to search it.
fn unfolded(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

/// The unsubscribe token in a received message.
fn unsubscribe_token(raw: &str) -> String {
    let joined = unfolded(raw);
    let at = joined.find("/unsubscribe/").expect("an unsubscribe link") + "/unsubscribe/".len();
    joined[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_mails_each_person_once_per_event_and_an_unsubscribed_person_hears_nothing_more() {
    let tag = tag();
    let person = |n: &str| format!("{n}-{tag}@example.org");
    let site = site().await;
    site.subscribe("printers", "Printers <&> scanners", &[person("ada"), person("bob"), person("cy")]).await;
    site.subscribe("wifi", "Office Wi-Fi", &[person("cy"), person("dee")]).await;

    let (status, body) = site
        .call(
            "POST",
            "/api/incidents",
            Some(json!({
                "title": "Printing <b>fails</b> on floor 3",
                "description": "Jobs stay queued.",
                "severity": "sev3",
                "systems": [{"system": "printers", "impact": "degraded"}, {"system": "wifi", "impact": "degraded"}],
                "notify_emails": [person("manager")],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ticket: TicketNumber =
        TicketNumber::parse("ticket", serde_json::from_str::<Value>(&body).unwrap()["ticket"].as_str().unwrap())
            .unwrap();

    assert_eq!(site.worker.drain().await.unwrap(), Drained { delivered: 1, postponed: 0 });

    let opened = received(&tag, 5).await;
    let mut to: Vec<&str> = opened.iter().map(|(rcpt, _)| rcpt.as_str()).collect();
    to.sort_unstable();
    let mut expected = [person("ada"), person("bob"), person("cy"), person("dee"), person("manager")];
    expected.sort_unstable();
    assert_eq!(to, expected, "cy subscribes to both systems and gets one message");
    let cy = unfolded(&opened.iter().find(|(rcpt, _)| rcpt.starts_with("cy-")).unwrap().1);
    assert!(
        cy.contains(&format!("Subject: [{ticket}] Minor incident opened: Printing <b>fails</b> on floor 3")),
        "{cy}"
    );
    assert!(cy.contains("Printing &lt;b&gt;fails&lt;/b&gt;"), "the title is escaped in the HTML part");
    assert!(cy.contains("you subscribe to Printers"), "{cy}");

    // Nothing more goes out: the queue is empty, and the sink stores a message before it acknowledges it, so
    // everything the worker sent is already there when `drain` returns and nothing is still on its way.
    assert_eq!(site.worker.drain().await.unwrap(), Drained::default(), "the queue is empty");
    assert_eq!(received(&tag, 5).await.len(), 5);
    let deliveries = site.store.event_deliveries(ticket, 1).await.unwrap();
    let sent: usize = deliveries.iter().map(|d| d.sent.len()).sum();
    assert_eq!(sent, 5, "the ledger holds each of the five once: {deliveries:?}");

    let token = unsubscribe_token(&cy);
    let (status, page) = site.call("GET", &format!("/unsubscribe/{token}"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&person("cy")), "{page}");
    assert!(
        site.store.subscribers(&support::system("printers")).await.unwrap().iter().all(|s| s
            .email
            .as_ref()
            .unwrap()
            .as_str()
            != person("cy"))
    );
    assert!(
        site.store.subscribers(&support::system("wifi")).await.unwrap().iter().all(|s| s
            .email
            .as_ref()
            .unwrap()
            .as_str()
            != person("cy"))
    );
    let (status, _) = site.call("GET", &format!("/unsubscribe/{token}"), None).await;
    assert_eq!(status, StatusCode::OK, "following the link twice is fine");

    let (status, body) = site
        .call("POST", &format!("/api/incidents/{ticket}/resolve"), Some(json!({"message": "Spooler restarted."})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(site.worker.drain().await.unwrap(), Drained { delivered: 1, postponed: 0 });

    let all = received(&tag, 9).await;
    let resolved: Vec<&str> =
        all.iter().filter(|(_, raw)| raw.contains("incident resolved")).map(|(rcpt, _)| rcpt.as_str()).collect();
    assert_eq!(resolved.len(), 4, "{resolved:?}");
    assert!(!resolved.iter().any(|r| r.starts_with("cy-")), "cy unsubscribed");
}
