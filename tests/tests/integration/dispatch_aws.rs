//! Dispatch on AWS, end to end, against DynamoDB Local and moto: an incident opened through the intake router is
//! read back from DynamoDB Local's own stream, handed to the stream handler the dispatcher Lambda runs, and
//! delivered through SES (moto), SNS (moto) and ServiceNow (a contract server speaking its Table API).
//!
//! Each test has its own table, sender, topic and ServiceNow server, so tests run in parallel on one moto.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use axum::Router;
use flare_aws::{DynamoStore, SesMailer, SnsPublisher, local_ses_client, local_sns_client};
use flare_core::UnsubscribeKey;
use flare_core::config::Env;
use flare_core::notify::{BulkMail, BulkReport, Mail, Mailer, NotifyError};
use flare_core::text::{PersonName, SystemName};
use flare_core::{
    AccessStore, ApiKey, CatalogStore, EmailAddress, IncidentService, IncidentStore, LedgerStore, Scope, Subscriber,
    System, TicketNumber,
};
use flare_core::{Channels, Dispatcher, Links, NOTICE};
use flare_http::{AppState, HttpConfig};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, NOW, TestClock};

const TABLE_PATH: &str = "/api/now/table/incident";
const SYS_ID: &str = "5f1c0a3e1b2d4c5e8f9a0b1c2d3e4f50";
/// Far above anything a test sends, so no test waits on the limiter.
const FAST: f64 = 10_000.0;

/// Everything one test runs on.
struct World {
    endpoint: String,
    table: String,
    store: Arc<DynamoStore>,
    clock: Arc<TestClock>,
    sender: EmailAddress,
    topic: String,
    servicenow: MockServer,
    intake: Router,
    token: String,
}

async fn world() -> World {
    let endpoint = support::dynamodb_endpoint();
    let moto = support::moto_endpoint();
    let client = flare_aws::local_client(&endpoint);
    let table = format!("flare-dispatch-{}", support::unique_suffix());
    flare_aws::schema::create_table(&client, &table).await.unwrap();
    let store = Arc::new(DynamoStore::new(client, table.clone()));
    let clock = Arc::new(TestClock::at(NOW));

    let ses = local_ses_client(&moto);
    let sender = EmailAddress::parse("sender", &format!("flare-{}@flare.example", support::unique_suffix())).unwrap();
    ses.verify_email_identity().email_address(sender.as_str()).send().await.unwrap();
    let sns = local_sns_client(&moto);
    let topic = sns.create_topic().name(format!("flare-{}", support::unique_suffix())).send().await.unwrap();
    let topic = topic.topic_arn().unwrap().to_string();

    let (key, token) =
        ApiKey::generate(PersonName::parse("name", "monitoring").unwrap(), vec![Scope::IncidentsWrite], NOW);
    store.create_api_key(&key).await.unwrap();
    let service = IncidentService::new(store.clone(), clock.clone());
    let intake = flare_http::intake_router(AppState::new(service, HttpConfig::default()));
    World { endpoint, table, store, clock, sender, topic, servicenow: servicenow().await, intake, token }
}

/// A ServiceNow instance that has no incident correlated with ours until one is created, and then has it.
async fn servicenow() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "result": { "sys_id": SYS_ID, "number": "INC0010042" } })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .and(query_param("sysparm_limit", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "result": [] })))
        .mount(&server)
        .await;
    server
}

impl World {
    /// The dispatcher the Lambda builds, on this world's services; `mailer` replaces SES when given.
    fn dispatcher(&self, mailer: Option<Arc<dyn Mailer>>) -> Dispatcher {
        let moto = support::moto_endpoint();
        let ses = SesMailer::new(local_ses_client(&moto), self.sender.clone(), FAST);
        let sns = SnsPublisher::new(local_sns_client(&moto), self.topic.clone());
        let vars = BTreeMap::from([
            ("FLARE_TICKETS", "servicenow".to_string()),
            ("FLARE_SERVICENOW_URL", self.servicenow.uri()),
            ("FLARE_SERVICENOW_USER", "flare".into()),
            ("FLARE_SERVICENOW_PASSWORD", "sn-pa55word".into()),
            ("FLARE_TICKETS_BACKOFF_MS", "10".into()),
        ]);
        let tickets = flare_tickets::from_env(&Env::from_lookup(move |name| vars.get(name).cloned())).unwrap().unwrap();
        let channels = Channels {
            mailer: Some(mailer.unwrap_or_else(|| Arc::new(ses))),
            publisher: Some(Arc::new(sns)),
            tickets: Some(Arc::from(tickets)),
        };
        let service = IncidentService::new(self.store.clone(), self.clock.clone());
        Dispatcher::new(service, channels, Links::new("https://flare.example.com", UnsubscribeKey::derive(&[9; 32])))
    }

    async fn ensure_template(&self) {
        let ses = SesMailer::new(local_ses_client(&support::moto_endpoint()), self.sender.clone(), FAST);
        ses.ensure_template(NOTICE.name, NOTICE.subject, NOTICE.html, NOTICE.text).await.unwrap();
    }

    /// Two systems: `vpn` with subscribers 0 to 79, `mail` with 60 to 119, so 20 people subscribe to both and
    /// 120 to either. Subscriber 200 has a phone only, and is not mailed.
    async fn catalog(&self) {
        for (id, name, range) in [("vpn", "Remote access VPN", 0..80), ("mail", "Email", 60..120)] {
            let system = System {
                id: support::system(id),
                name: SystemName::parse("name", name).unwrap(),
                owner: None,
                owner_email: None,
            };
            self.store.put_system(&system).await.unwrap();
            for i in range {
                let email = EmailAddress::parse("email", &format!("user{i:03}@example.org")).unwrap();
                self.store
                    .put_subscriber(&Subscriber::new(system.id.clone(), Some(email), None, None).unwrap())
                    .await
                    .unwrap();
            }
        }
        let phone = flare_core::PhoneNumber::parse("phone", "+14155550200").unwrap();
        let sms_only = Subscriber::new(support::system("vpn"), None, Some(phone), None).unwrap();
        self.store.put_subscriber(&sms_only).await.unwrap();
    }

    /// Opens an incident on both systems through the intake API, as a monitoring tool does.
    async fn open(&self) -> TicketNumber {
        let body = json!({
            "title": "VPN and mail down in the Paris office",
            "description": "Nobody in Paris can connect. <script>alert(1)</script>",
            "severity": "sev1",
            "systems": [{"system": "vpn", "impact": "major_outage"}, {"system": "mail", "impact": "partial_outage"}],
            "engineer": "Grace Hopper",
            "engineer_email": "user005@example.org",
        });
        let request = Request::post("/api/incidents")
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let response = self.intake.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, StatusCode::CREATED, "{json}");
        TicketNumber::parse("ticket", json["ticket"].as_str().unwrap()).unwrap()
    }

    /// Hands a batch of stream records to the Lambda's handler, as Lambda does; the sequence numbers of the
    /// records to redeliver.
    async fn deliver(&self, dispatcher: &Dispatcher, batch: Event) -> Vec<Option<String>> {
        let response = flare_aws::stream::handle(batch, |ticket, seq| dispatcher.dispatch(ticket, seq)).await;
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    }

    /// What moto recorded of SES bulk sends from this world's sender: each call's destinations.
    async fn bulk_calls(&self) -> Vec<Vec<String>> {
        let data = moto_data().await;
        data["ses"]["BulkTemplateMessage"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["source"] == self.sender.as_str())
            .map(|call| {
                call["destinations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["Destination"]["ToAddresses"][0].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }

    /// The messages moto's SNS recorded on this world's topic.
    async fn published(&self) -> Vec<Value> {
        let data = moto_data().await;
        let topics = data["sns"]["Topic"].as_array().unwrap().iter().filter(|t| t["arn"] == self.topic.as_str());
        topics.flat_map(|t| t["sent_notifications"].as_array().unwrap().clone()).collect()
    }

    async fn servicenow_requests(&self, verb: &str) -> usize {
        let requests = self.servicenow.received_requests().await.unwrap();
        requests.iter().filter(|r| r.method.as_str() == verb && r.url.path() == TABLE_PATH).count()
    }
}

async fn moto_data() -> Value {
    reqwest::get(format!("{}/moto-api/data.json", support::moto_endpoint())).await.unwrap().json().await.unwrap()
}

/// Every address mailed, with how many times.
fn tally(calls: &[Vec<String>]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for to in calls.iter().flatten() {
        *seen.entry(to.clone()).or_insert(0) += 1;
    }
    seen
}

fn everyone() -> Vec<String> {
    (0..120).map(|i| format!("user{i:03}@example.org")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_opened_through_intake_is_delivered_once_from_the_tables_own_stream_and_redelivery_sends_nothing() {
    let world = world().await;
    world.ensure_template().await;
    world.catalog().await;
    let ticket = world.open().await;
    let mut stream = crate::stream::StreamReader::new(&world.endpoint, &world.table).await;
    let batch = stream.next_batch().await;
    assert!(batch.records.iter().any(|r| flare_aws::stream::timeline_event(r) == Some((ticket, 1))));
    let dispatcher = world.dispatcher(None);

    let failures = world.deliver(&dispatcher, batch.clone()).await;

    assert_eq!(failures, Vec::<Option<String>>::new(), "the whole batch is delivered");
    let calls = world.bulk_calls().await;
    assert_eq!(calls.len(), 3, "⌈120 / 50⌉ bulk calls for 120 unique recipients");
    assert!(calls.iter().all(|c| c.len() <= 50));
    let seen = tally(&calls);
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), everyone(), "each subscriber, the engineer among them");
    assert!(seen.values().all(|n| *n == 1), "nobody is mailed twice: {seen:?}");

    let published = world.published().await;
    assert_eq!(published.len(), 1, "one message for the topic, listing both systems");
    let message = published[0][1].as_str().unwrap();
    assert!(message.chars().count() <= 160, "{message}");
    assert!(message.starts_with(&format!("{ticket} SEV1 opened: VPN and mail down")), "{message}");
    assert!(message.ends_with(&format!("https://flare.example.com/incidents/{ticket}")), "{message}");
    let attributes = &published[0][3];
    assert_eq!(attributes["system"]["Type"], "String.Array");
    assert_eq!(attributes["system"]["Value"], r#"["vpn","mail"]"#);
    assert_eq!(attributes["severity"]["Value"], "sev1");
    assert_eq!(attributes["event"]["Value"], "opened");

    assert_eq!(world.servicenow_requests("POST").await, 1, "exactly one ServiceNow incident is created");
    let incident = world.store.get(ticket).await.unwrap().unwrap();
    let external = incident.external.expect("the ServiceNow number is stored on the incident");
    assert_eq!(external.key.as_str(), "INC0010042");
    assert!(external.url.unwrap().as_str().contains(SYS_ID));

    // The link is itself a timeline event, and comes down the stream: it sends nothing.
    let link = stream.next_batch().await;
    assert!(link.records.iter().any(|r| flare_aws::stream::timeline_event(r) == Some((ticket, 2))));
    assert_eq!(world.deliver(&dispatcher, link).await, Vec::<Option<String>>::new());

    // Lambda delivers the same batch again (a timeout after the work was done, say).
    let gets_before = world.servicenow_requests("GET").await;
    assert_eq!(world.deliver(&dispatcher, batch).await, Vec::<Option<String>>::new());

    assert_eq!(world.bulk_calls().await.len(), 3, "redelivery sends no mail");
    assert_eq!(world.published().await.len(), 1, "redelivery publishes nothing");
    assert_eq!(world.servicenow_requests("POST").await, 1, "redelivery opens no second ticket");
    assert_eq!(world.servicenow_requests("GET").await, gets_before, "nor even looks the ticket up again");
    let ledger = world.store.event_deliveries(ticket, 1).await.unwrap();
    let channels: Vec<_> = ledger.iter().map(|d| (d.channel.as_str(), d.batch, d.sent.len())).collect();
    assert_eq!(channels, [("email", 1, 50), ("email", 2, 50), ("email", 3, 20), ("message", 1, 1), ("ticket", 1, 1)]);
}

/// Lets the first `allowed` bulk calls through to SES, then fails as a crashed or throttled run would.
struct FailsAfter {
    inner: SesMailer,
    allowed: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl Mailer for FailsAfter {
    async fn send_bulk(&self, mail: &BulkMail) -> Result<BulkReport, NotifyError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            return Err(NotifyError::Transient { service: "SES", source: "connection reset".into() });
        }
        self.inner.send_bulk(mail).await
    }

    async fn send_one(&self, mail: &Mail) -> Result<(), NotifyError> {
        self.inner.send_one(mail).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_that_fails_after_its_first_batch_resumes_on_redelivery_with_no_duplicates_and_nobody_missed() {
    let world = world().await;
    world.ensure_template().await;
    world.catalog().await;
    let ticket = world.open().await;
    let mut stream = crate::stream::StreamReader::new(&world.endpoint, &world.table).await;
    let batch = stream.next_batch().await;
    let ses = SesMailer::new(local_ses_client(&support::moto_endpoint()), world.sender.clone(), FAST);
    let failing = world.dispatcher(Some(Arc::new(FailsAfter { inner: ses, allowed: 1, calls: AtomicUsize::new(0) })));

    let failures = world.deliver(&failing, batch.clone()).await;

    let opened = batch.records.iter().find(|r| flare_aws::stream::timeline_event(r) == Some((ticket, 1))).unwrap();
    assert_eq!(failures, vec![opened.change.sequence_number.clone()], "the event is reported for redelivery");
    assert_eq!(world.bulk_calls().await.len(), 1, "the first batch went out before the failure");
    assert_eq!(world.published().await.len(), 1, "the other channels were not held up");
    assert_eq!(world.servicenow_requests("POST").await, 1);

    // Lambda redelivers from the failed record on, to a fresh instance.
    let failures = world.deliver(&world.dispatcher(None), batch.clone()).await;

    assert_eq!(failures, Vec::<Option<String>>::new());
    let calls = world.bulk_calls().await;
    assert_eq!(calls.len(), 3, "50 before the failure, then the 70 still owed in two calls");
    let seen = tally(&calls);
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), everyone(), "nobody is missed");
    assert!(seen.values().all(|n| *n == 1), "nobody is mailed twice: {seen:?}");
    assert_eq!(world.published().await.len(), 1, "the message is not published again");
    assert_eq!(world.servicenow_requests("POST").await, 1, "nor a second ticket opened");
}
