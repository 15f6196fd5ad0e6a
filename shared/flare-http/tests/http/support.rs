//! Fixtures: the app on a real SQLite store in a temporary directory, a clock the test controls, a catalog,
//! users and API keys, and a small browser that keeps cookies and reads hidden form fields.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use flare_core::UnsubscribeKey;
use flare_core::poll::{BadRow, PollStore, ProbeCheck, SourceState};
use flare_core::text::PersonName;
use flare_core::{AccessStore, CatalogStore, IncidentStore, NewIncident};
use flare_core::{
    ApiKey, ApiKeyHash, Clock, Delivery, DigestDelivery, IdempotencyKey, Incident, IncidentService, LedgerStore, Page,
    Scope, Source, Store, StoreError, Subscriber, System, SystemId, TicketNumber, TimelineEvent, User, Username,
    WindowQuery,
};
use flare_http::{AppState, HttpConfig, SessionKey};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

/// "Now" in every test unless a test moves the clock.
pub const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);
/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery staple";
/// A window around every incident the tests open: windows end before "now", and most incidents start at it.
pub const ALL: &str = "/api/incidents?from=2026-11-01&to=2026-12-01";
pub const ALLOWED_ORIGIN: &str = "https://status.example.com";

#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The app under test and its backing store.
pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub clock: Arc<TestClock>,
    /// A key with `incidents:write`.
    pub writer: String,
    /// A key with `incidents:read` only.
    pub reader: String,
    /// The key the app checks unsubscribe links with, derived as the dispatcher derives it.
    pub unsubscribe: UnsubscribeKey,
    _dir: tempfile::TempDir,
}

fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| flare_http::hash_password(PASSWORD).unwrap()).clone()
}

fn user(name: &str, scopes: Vec<Scope>, disabled: bool) -> User {
    User {
        username: Username::parse("username", name).unwrap(),
        display_name: PersonName::parse("name", &format!("{name} (test)")).unwrap(),
        password_hash: password_hash(),
        scopes,
        created_at: NOW,
        disabled,
        sessions_valid_after: None,
    }
}

impl TestApp {
    /// Private reads, one allowed CORS origin, secure cookies.
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn public() -> Self {
        Self::with(|c| c.public_reads = true).await
    }

    pub async fn with(configure: impl FnOnce(&mut HttpConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(flare_embedded::SqliteStore::open(&dir.path().join("flare.db")).unwrap());
        let clock = Arc::new(TestClock(Mutex::new(NOW)));
        for (id, name) in [("vpn", "VPN"), ("email", "Email"), ("payroll", "Payroll")] {
            store.put_system(&flare_core::test_util::system(id, name)).await.unwrap();
        }
        store.create_user(&user("ada", vec![Scope::IncidentsWrite], false)).await.unwrap();
        store.create_user(&user("bob", vec![], false)).await.unwrap();
        store.create_user(&user("carol", vec![Scope::IncidentsWrite], true)).await.unwrap();
        let (writer_key, writer) =
            ApiKey::generate(PersonName::parse("name", "monitoring").unwrap(), vec![Scope::IncidentsWrite], NOW);
        let (reader_key, reader) =
            ApiKey::generate(PersonName::parse("name", "wallboard").unwrap(), vec![Scope::IncidentsRead], NOW);
        store.create_api_key(&writer_key).await.unwrap();
        store.create_api_key(&reader_key).await.unwrap();

        let mut config = HttpConfig::new(SessionKey::from_bytes(&[42; 32]).unwrap());
        config.cors_origins = vec![flare_http::CorsOrigin::parse(ALLOWED_ORIGIN).unwrap()];
        configure(&mut config);
        let unsubscribe = config.session_key.unsubscribe_key();
        let service = IncidentService::new(store.clone(), clock.clone());
        let router = flare_http::app(AppState::new(service, config));
        Self { router, store, clock, writer, reader, unsubscribe, _dir: dir }
    }

    /// A new key with scope `admin`.
    pub async fn admin(&self) -> String {
        let (key, token) =
            ApiKey::generate(PersonName::parse("name", "catalog sync").unwrap(), vec![Scope::Admin], NOW);
        self.store.create_api_key(&key).await.unwrap();
        token
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
    }

    pub async fn get(&self, uri: &str, key: Option<&str>) -> Reply {
        let mut r = Request::get(uri);
        if let Some(k) = key {
            r = r.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// A JSON call with the writer key.
    pub async fn write(&self, method: Method, uri: &str, body: Value) -> Reply {
        self.write_with(method, uri, body, &[]).await
    }

    pub async fn write_with(&self, method: Method, uri: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.writer))
            .header(header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r.body(Body::from(body.to_string())).unwrap()).await
    }

    /// Opens an incident through the API and returns its ticket.
    pub async fn open(&self, title: &str) -> String {
        let reply = self.write(Method::POST, "/api/incidents", open_body(title)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["ticket"].as_str().unwrap().to_string()
    }

    pub async fn incident(&self, ticket: &str) -> Option<Incident> {
        self.store.get(TicketNumber::parse("ticket", ticket).unwrap()).await.unwrap()
    }

    /// A browser signed in as `username` through the login page.
    pub async fn signed_in(&self, username: &str) -> Browser {
        let mut browser = Browser::default();
        let reply = browser.sign_in(self, username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        browser
    }
}

pub fn open_body(title: &str) -> Value {
    serde_json::json!({
        "title": title,
        "description": "Nobody can connect from home.",
        "severity": "sev2",
        "systems": [{"system": "vpn", "impact": "major_outage"}],
        "engineer": "Grace Hopper",
    })
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Reply { status, headers, body }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error body's field names.
    pub fn fields(&self) -> Vec<String> {
        self.json()["fields"]
            .as_array()
            .map_or_else(Vec::new, |a| a.iter().map(|f| f["field"].as_str().unwrap_or_default().to_string()).collect())
    }
}

/// The `value` of the first hidden input named `name` in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in the page")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A cookie jar and the requests a browser makes.
#[derive(Debug, Default, Clone)]
pub struct Browser {
    pub cookies: HashMap<String, String>,
}

impl Browser {
    fn keep_cookies(&mut self, reply: &Reply) {
        for v in reply.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, app: &TestApp, uri: &str) -> Reply {
        let request = Request::get(uri).header(header::COOKIE, self.cookie_header()).body(Body::empty()).unwrap();
        let reply = app.send(request).await;
        self.keep_cookies(&reply);
        reply
    }

    pub async fn post(&mut self, app: &TestApp, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let request = Request::post(uri)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let reply = app.send(request).await;
        self.keep_cookies(&reply);
        reply
    }

    pub async fn sign_in(&mut self, app: &TestApp, username: &str, password: &str) -> Reply {
        let page = self.get(app, "/login?next=/form").await;
        let csrf = hidden(&page.text(), "csrf");
        self.post(app, "/login", &[("username", username), ("password", password), ("csrf", &csrf), ("next", "/form")])
            .await
    }

    /// The form page and its session CSRF token.
    pub async fn form(&mut self, app: &TestApp) -> (String, String) {
        let page = self.get(app, "/form").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        let csrf = hidden(&html, "csrf");
        (html, csrf)
    }
}

/// A store whose every call fails, as an unreachable database would.
#[derive(Debug)]
pub struct BrokenStore;

fn outage<T>() -> Result<T, StoreError> {
    Err(StoreError::unavailable(std::io::Error::other("disk on fire: secret=hunter2")))
}

#[async_trait]
impl IncidentStore for BrokenStore {
    async fn next_ticket(&self) -> Result<TicketNumber, StoreError> {
        outage()
    }
    async fn create(&self, _: NewIncident<'_>) -> Result<(), StoreError> {
        outage()
    }
    async fn save(&self, _: &Incident, _: &TimelineEvent, _: Option<&IdempotencyKey>) -> Result<(), StoreError> {
        outage()
    }
    async fn idempotency(&self, _: &str, _: OffsetDateTime) -> Result<Option<IdempotencyKey>, StoreError> {
        outage()
    }
    async fn get(&self, _: TicketNumber) -> Result<Option<Incident>, StoreError> {
        outage()
    }
    async fn event(&self, _: TicketNumber, _: u64) -> Result<Option<flare_core::RecordedEvent>, StoreError> {
        outage()
    }
    async fn timeline(&self, _: TicketNumber) -> Result<Vec<TimelineEvent>, StoreError> {
        outage()
    }
    async fn list_window(&self, _: &WindowQuery) -> Result<Page<Incident>, StoreError> {
        outage()
    }
    async fn list_open(&self) -> Result<Vec<Incident>, StoreError> {
        outage()
    }
    async fn find_by_external_id(&self, _: &Source) -> Result<Option<Incident>, StoreError> {
        outage()
    }
}

#[async_trait]
impl CatalogStore for BrokenStore {
    async fn put_system(&self, _: &System) -> Result<(), StoreError> {
        outage()
    }
    async fn get_system(&self, _: &SystemId) -> Result<Option<System>, StoreError> {
        outage()
    }
    async fn list_systems(&self) -> Result<Vec<System>, StoreError> {
        outage()
    }
    async fn put_subscriber(&self, _: &Subscriber) -> Result<(), StoreError> {
        outage()
    }
    async fn subscribers(&self, _: &SystemId) -> Result<Vec<Subscriber>, StoreError> {
        outage()
    }
    async fn remove_subscriber(&self, _: &SystemId, _: &str) -> Result<bool, StoreError> {
        outage()
    }
}

#[async_trait]
impl LedgerStore for BrokenStore {
    async fn record_delivery(&self, _: &Delivery) -> Result<(), StoreError> {
        outage()
    }
    async fn event_deliveries(&self, _: TicketNumber, _: u64) -> Result<Vec<Delivery>, StoreError> {
        outage()
    }
    async fn deliveries(&self, _: TicketNumber) -> Result<Vec<Delivery>, StoreError> {
        outage()
    }
    async fn record_digest(&self, _: &DigestDelivery) -> Result<(), StoreError> {
        outage()
    }
    async fn digest_deliveries(&self, _: OffsetDateTime) -> Result<Vec<DigestDelivery>, StoreError> {
        outage()
    }
}

#[async_trait]
impl AccessStore for BrokenStore {
    async fn create_user(&self, _: &User) -> Result<(), StoreError> {
        outage()
    }
    async fn get_user(&self, _: &Username) -> Result<Option<User>, StoreError> {
        outage()
    }
    async fn update_user(&self, _: &User) -> Result<bool, StoreError> {
        outage()
    }
    async fn create_api_key(&self, _: &ApiKey) -> Result<(), StoreError> {
        outage()
    }
    async fn find_api_key(&self, _: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        outage()
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        outage()
    }
    async fn revoke_api_key(&self, _: &str, _: OffsetDateTime) -> Result<bool, StoreError> {
        outage()
    }
}

#[async_trait]
impl PollStore for BrokenStore {
    async fn poll_sources(&self) -> Result<Vec<SourceState>, StoreError> {
        outage()
    }
    async fn poll_source(&self, _: &str) -> Result<Option<SourceState>, StoreError> {
        outage()
    }
    async fn put_poll_source(&self, _: &SourceState) -> Result<(), StoreError> {
        outage()
    }
    async fn row_handled(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        outage()
    }
    async fn mark_row(&self, _: &str, _: &str, _: Option<&BadRow>) -> Result<(), StoreError> {
        outage()
    }
    async fn bad_rows(&self, _: &str) -> Result<Vec<BadRow>, StoreError> {
        outage()
    }
    async fn record_check(&self, _: &ProbeCheck) -> Result<(), StoreError> {
        outage()
    }
    async fn checks(&self, _: &str, _: usize) -> Result<Vec<ProbeCheck>, StoreError> {
        outage()
    }
}

/// The app on a store that always fails, with public reads.
pub fn broken_app() -> Router {
    let clock = Arc::new(TestClock(Mutex::new(NOW)));
    let service = IncidentService::new(Arc::new(BrokenStore), clock);
    let mut config = HttpConfig::new(SessionKey::generate());
    config.public_reads = true;
    flare_http::app(AppState::new(service, config))
}

/// The intake and dashboard routers apart, as the two Lambdas run them, on one store.
pub async fn split_routers() -> (TestApp, Router, Router) {
    let app = TestApp::public().await;
    let service = IncidentService::new(app.store.clone(), app.clock.clone());
    let mut config = HttpConfig::new(SessionKey::generate());
    config.public_reads = true;
    let state = AppState::new(service, config);
    (app, flare_http::intake_router(state.clone()), flare_http::dashboard_router(state))
}
