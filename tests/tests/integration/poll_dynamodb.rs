//! The poller on DynamoDB Local: a sheet served by a local fixture server (axum) is applied once, its bad row
//! recorded and mailed to the help desk once (through moto's SES), with the same service, store and mailer the
//! Lambda uses.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use flare_aws::{SesMailer, local_ses_client};
use flare_core::text::SystemName;
use flare_core::{IncidentService, System, TicketNumber};
use flare_poll::{BadRowMail, PollConfig, Poller};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_row_is_mailed_to_the_help_desk_once_with_its_row_number_and_reason() {
    let backend = support::dynamodb().await;
    let tag = support::unique_suffix();
    let vpn =
        System { id: system("vpn"), name: SystemName::parse("name", "VPN").unwrap(), owner: None, owner_email: None };
    backend.store.put_system(&vpn).await.unwrap();
    let body = Arc::new(Mutex::new(SHEET.to_string()));
    let url = fixture(body.clone()).await;
    let desk = format!("desk-{tag}@example.org");
    let config = format!(
        r#"{{"sheets": [{{"name": "desk", "url": "{url}", "time_zone": "America/New_York"}}],
            "allowed_hosts": ["127.0.0.1"], "bad_rows_to": "{desk}"}}"#
    );
    let config = PollConfig::from_json("FLARE_POLL_SOURCES", &config).unwrap();
    let client = local_ses_client(&support::moto_endpoint());
    let sender = format!("poller-{tag}@flare.example");
    client.verify_email_identity().email_address(&sender).send().await.unwrap();
    let to = config.bad_rows_to.clone().unwrap();
    let mailer = Arc::new(SesMailer::new(client, flare_core::EmailAddress::parse("from", &sender).unwrap(), 1_000.0));
    let service = IncidentService::new(backend.store.clone(), backend.clock.clone());
    let poller = Poller::new(service, config).unwrap().with_bad_row_mail(BadRowMail { mailer, to });

    let first = poller.run_scheduled().await.unwrap();
    body.lock().unwrap().push_str("11/20/2026 9:30:00,Close,INC-77,,,\n");
    let second = poller.run_scheduled().await.unwrap();
    let third = poller.run_scheduled().await.unwrap();

    let mailed: Vec<bool> =
        [first, second, third].iter().map(|r| r.sources[0].sheet.as_ref().unwrap().bad_rows_mailed).collect();
    assert_eq!(mailed, [true, true, false], "a mail for each run that found a new bad row, and only then");
    let sent = support::moto_raw_messages(&sender).await;
    let texts: Vec<String> = sent
        .iter()
        .map(|m| {
            let message =
                mail_parser::MessageParser::default().parse(m["raw_data"].as_str().unwrap().as_bytes()).unwrap();
            assert_eq!(message.to().and_then(|a| a.first()).and_then(|a| a.address()), Some(desk.as_str()));
            message.body_text(0).unwrap().to_string()
        })
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Row 4, Systems: names an unknown system: Coffee Machine"), "{}", texts[0]);
    assert!(texts[1].contains("Row 5, Ticket number: names INC-77, which does not exist"), "{}", texts[1]);
    assert!(!texts[1].contains("Row 4"), "a row is mailed once: {}", texts[1]);
}
