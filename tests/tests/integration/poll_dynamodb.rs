//! The poller on DynamoDB Local: a sheet served by a local fixture server (axum) is applied once, its bad row
//! recorded, through the same service and store the Lambda uses.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use flare_core::text::SystemName;
use flare_core::{IncidentService, System, TicketNumber};
use flare_poll::{PollConfig, Poller};

use crate::support::{self, system};

const SHEET: &str = "Timestamp,Action,Ticket number,Title,Systems,Severity\n\
11/20/2026 8:00:00,Open,,VPN down,VPN,sev2\n\
11/20/2026 8:30:00,Update,INC-1,,,sev1\n\
11/20/2026 9:00:00,Open,,Coffee,Coffee Machine,sev4\n";

/// Serves `body` at `/sheet.csv` on a free loopback port; the body can change between polls.
async fn fixture(body: Arc<Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/sheet.csv", get(move || async move { body.lock().unwrap().clone() }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/sheet.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_polled_into_dynamodb_applies_each_row_once_and_records_its_bad_row() {
    let backend = support::dynamodb().await;
    let vpn =
        System { id: system("vpn"), name: SystemName::parse("name", "VPN").unwrap(), owner: None, owner_email: None };
    backend.store.put_system(&vpn).await.unwrap();
    let body = Arc::new(Mutex::new(SHEET.to_string()));
    let url = fixture(body.clone()).await;
    let config = format!(
        r#"{{"sheets": [{{"name": "desk", "url": "{url}", "time_zone": "America/New_York"}}], "allowed_hosts": ["127.0.0.1"]}}"#
    );
    let service = IncidentService::new(backend.store.clone(), backend.clock.clone());
    let poller = Poller::new(service, PollConfig::from_json("FLARE_POLL_SOURCES", &config).unwrap()).unwrap();

    let first = poller.run_scheduled().await.unwrap();
    // A changed body (a blank row more) is read again, and finds every row handled.
    body.lock().unwrap().push_str(",,,,,\n");
    let second = poller.run_scheduled().await.unwrap();

    let (first, second) = (first.sources[0].sheet.clone().unwrap(), second.sources[0].sheet.clone().unwrap());
    assert_eq!((first.applied, first.bad, second.applied, second.bad), (2, 1, 0, 0));
    let vpn_down = backend.store.get(TicketNumber::from_number(1).unwrap()).await.unwrap().unwrap();
    assert_eq!((vpn_down.version, vpn_down.severity.as_str()), (2, "sev1"));
    assert!(backend.store.get(TicketNumber::from_number(2).unwrap()).await.unwrap().is_none());
    let bad = backend.store.bad_rows("sheet:desk").await.unwrap();
    assert_eq!(bad.iter().map(|b| (b.row, b.field.as_str())).collect::<Vec<_>>(), [(4, "Systems")]);
}
