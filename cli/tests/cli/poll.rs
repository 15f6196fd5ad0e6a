//! `flare poll once` and `flare poll status` end to end: the real binary polls a sheet served by a local fixture
//! server into a temporary database, then shows what the run left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flare_core::text::SystemName;
use flare_core::{CatalogStore, System, SystemId};
use flare_embedded::SqliteStore;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FLARE: &str = env!("CARGO_BIN_EXE_flare");

const SHEET: &str = "Timestamp,Action,Ticket number,Title,Description,Systems,Severity\n\
11/16/2026 8:02:11,Open,,VPN down,Nobody can connect,VPN,sev2\n\
11/16/2026 8:05:00,Open,,Coffee,Out of beans,Coffee Machine,sev4\n";

/// Runs the binary off the async runtime, so the fixture server keeps answering meanwhile.
async fn flare(db: PathBuf, args: &'static [&'static str], sources: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(FLARE);
        command.arg("--db").arg(&db).args(args).env("FLARE_LOG", "off").env_remove("FLARE_POLL_FILE");
        match sources {
            Some(json) => command.env("FLARE_POLL_SOURCES", json),
            None => command.env_remove("FLARE_POLL_SOURCES"),
        };
        command.output().unwrap()
    })
    .await
    .unwrap()
}

async fn catalog(db: &Path) {
    let store = SqliteStore::open(db).unwrap();
    let vpn = System {
        id: SystemId::parse("id", "vpn").unwrap(),
        name: SystemName::parse("name", "VPN").unwrap(),
        owner: None,
        owner_email: None,
    };
    store.put_system(&vpn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_status_shows_the_last_run_cursor_and_bad_rows_of_poll_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sheet.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string(SHEET))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flare.db");
    catalog(&db).await;
    let sources = format!(
        r#"{{"sheets": [{{"name": "desk", "url": "{}/sheet.csv", "time_zone": "America/New_York"}}],
            "allowed_hosts": ["127.0.0.1"]}}"#,
        server.uri()
    );

    let once = flare(db.clone(), &["poll", "once"], Some(sources)).await;
    let status = flare(db.clone(), &["poll", "status"], None).await;

    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    assert_eq!(String::from_utf8_lossy(&once.stdout), "sheet:desk\t2 rows: 1 applied, 1 bad\n");
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(shown.starts_with("sheet:desk\tlast run "), "{shown}");
    assert!(shown.contains("  cursor: 2 rows read;"), "{shown}");
    assert!(shown.contains("  bad row 3\tSystems: names an unknown system: Coffee Machine\n"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_status_on_a_new_database_says_no_source_has_run() {
    let dir = tempfile::tempdir().unwrap();

    let status = flare(dir.path().join("flare.db"), &["poll", "status"], None).await;

    assert!(status.status.success());
    assert_eq!(String::from_utf8_lossy(&status.stdout), "No source has run yet: `flare poll once` runs them now.\n");
}
