//! Test fixtures: stores on real backends, a clock the test controls, and builders for commands.

use std::sync::{Arc, Mutex};

use flare_core::text::{Description, PersonName, Title};
use flare_core::{
    Actor, AffectedSystem, Channel, Clock, Impact, IncidentService, OpenIncident, Severity, Source, Store, SystemId,
};
use time::OffsetDateTime;
use time::macros::datetime;

/// The environment variable through which `scripts/test` hands DynamoDB Local's endpoint to the tests.
pub const DYNAMODB_ENDPOINT_VAR: &str = "FLARE_TEST_DYNAMODB_ENDPOINT";

/// "Now" in every test unless a test moves the clock.
pub const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

/// A store on a real backend, and whatever must live as long as it.
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub clock: Arc<TestClock>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub fn service(&self) -> IncidentService {
        IncidentService::new(self.store.clone(), self.clock.clone())
    }
}

/// SQLite in a fresh temporary file.
pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = flare_embedded::SqliteStore::open(&dir.path().join("flare.db")).expect("open SQLite");
    Backend { store: Arc::new(store), clock: Arc::new(TestClock::at(NOW)), _dir: Some(dir) }
}

/// The environment variable through which `scripts/test` hands moto's endpoint to the tests.
pub const MOTO_ENDPOINT_VAR: &str = "FLARE_TEST_MOTO_ENDPOINT";

/// DynamoDB Local's endpoint. Fails loudly when it is not configured: run `scripts/test`.
pub fn dynamodb_endpoint() -> String {
    std::env::var(DYNAMODB_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{DYNAMODB_ENDPOINT_VAR} is not set: run the suite with scripts/test, which starts DynamoDB Local")
    })
}

/// moto's endpoint. Fails loudly when it is not configured: run `scripts/test`.
pub fn moto_endpoint() -> String {
    std::env::var(MOTO_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{MOTO_ENDPOINT_VAR} is not set: run the suite with scripts/test, which starts moto")
    })
}

/// The raw messages moto's SES recorded from `sender`, oldest first.
pub async fn moto_raw_messages(sender: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value =
        reqwest::get(format!("{}/moto-api/data.json", moto_endpoint())).await.unwrap().json().await.unwrap();
    let all = data["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|m| m["source"] == sender).collect()
}

/// A fresh table in DynamoDB Local. Fails loudly when the endpoint is not configured: run `scripts/test`.
pub async fn dynamodb() -> Backend {
    let endpoint = dynamodb_endpoint();
    let client = flare_aws::local_client(&endpoint);
    let table = format!("flare-test-{}", unique_suffix());
    flare_aws::schema::create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create a table in DynamoDB Local at {endpoint}: {e:?}"));
    let store = flare_aws::DynamoStore::new(client, table);
    Backend { store: Arc::new(store), clock: Arc::new(TestClock::at(NOW)), _dir: None }
}

/// A suffix no other test in this run uses, for table, topic and sender names.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{}-{}-{}", std::process::id(), nanos, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn at(t: OffsetDateTime) -> Self {
        Self(Mutex::new(t))
    }

    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

pub fn agent() -> Actor {
    Actor::system("contract-test")
}

pub fn system(id: &str) -> SystemId {
    SystemId::parse("system", id).unwrap()
}

/// An open command for `title`, started at `started_at`, affecting `systems`.
pub fn open(title: &str, started_at: OffsetDateTime, systems: &[&str]) -> OpenIncident {
    OpenIncident {
        title: Title::parse("title", title).unwrap(),
        description: Description::parse("description", &format!("{title}: users cannot work")).unwrap(),
        severity: Severity::Sev2,
        systems: systems.iter().map(|s| AffectedSystem { system: system(s), impact: Impact::PartialOutage }).collect(),
        engineer: Some(PersonName::parse("engineer", "Ada Lovelace").unwrap()),
        engineer_email: None,
        notify_emails: Vec::new(),
        started_at: Some(started_at),
        detected_at: None,
        source: Source::new(Channel::Api),
        notify: true,
    }
}
