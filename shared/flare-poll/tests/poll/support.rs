//! The fixture server, a store with a catalog, a clock that stands still, and a poller over them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flare_core::{Clock, IncidentService, Store};
use flare_embedded::SqliteStore;
use flare_poll::{PollConfig, Poller};
use time::OffsetDateTime;
use time::macros::datetime;

/// "Now" for every test: after every row of the fixture sheets.
pub const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

#[derive(Debug)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        NOW
    }
}

/// What the fixture server answers; tests change it between polls.
#[derive(Debug, Default)]
pub struct Answers {
    pub sheet: Mutex<Vec<u8>>,
    pub sheet_gets: AtomicUsize,
    /// Statuses for the next health checks, in order; 200 once they run out.
    pub health: Mutex<VecDeque<u16>>,
}

/// A local HTTP server serving the answers: `/export` redirects (307) to `/sheet` on another host name
/// (`localhost`), as a published sheet does; `/to-metadata` redirects to the cloud metadata address.
pub struct FixtureServer {
    pub addr: SocketAddr,
    pub answers: Arc<Answers>,
}

impl FixtureServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answers = Arc::new(Answers::default());
        let port = addr.port();
        let app = Router::new()
            .route(
                "/export",
                get(move || async move {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, format!("http://localhost:{port}/sheet"))])
                }),
            )
            .route("/sheet", get(sheet))
            .route("/health", get(health))
            .route("/big", get(|| async { "x".repeat(4096) }))
            .route(
                "/to-metadata",
                get(|| async {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "https://169.254.169.254/latest/meta-data/")])
                }),
            )
            .with_state(answers.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, answers }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn set_sheet(&self, body: impl Into<Vec<u8>>) {
        *self.answers.sheet.lock().unwrap() = body.into();
    }

    pub fn set_health(&self, statuses: &[u16]) {
        *self.answers.health.lock().unwrap() = statuses.iter().copied().collect();
    }
}

async fn sheet(State(a): State<Arc<Answers>>) -> Response {
    a.sheet_gets.fetch_add(1, Ordering::SeqCst);
    let body = a.sheet.lock().unwrap().clone();
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

async fn health(State(a): State<Arc<Answers>>) -> Response {
    let status = a.health.lock().unwrap().pop_front().unwrap_or(200);
    (StatusCode::from_u16(status).unwrap(), "status: ok").into_response()
}

/// A SQLite store in a temporary directory, with the systems the fixture sheets name.
pub struct Desk {
    pub store: Arc<dyn Store>,
    pub service: IncidentService,
    _dir: tempfile::TempDir,
}

impl Desk {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("flare.db")).unwrap());
        for (id, name) in [("email", "Email"), ("vpn", "VPN"), ("payroll-eu", "Payroll, EU"), ("wifi", "Office Wi-Fi")]
        {
            store.put_system(&flare_core::test_util::system(id, name)).await.unwrap();
        }
        let service = IncidentService::new(store.clone(), Arc::new(FixedClock));
        Self { store, service, _dir: dir }
    }

    /// A poller over this store with the given JSON configuration (the shape of `FLARE_POLL_SOURCES`).
    pub fn poller(&self, config: &str) -> Poller {
        let config = PollConfig::from_json("FLARE_POLL_SOURCES", config).unwrap();
        Poller::new(self.service.clone(), config).unwrap()
    }
}
