//! Sheets: a 200-row export of opens, updates and closes with 10 bad rows, polled behind a 307; polled again;
//! grown by a row; and a messy real-world European export.

use std::sync::atomic::Ordering;

use flare_core::poll::BadRow;
use flare_core::{Severity, Status, TicketNumber};
use time::macros::datetime;

use crate::support::{Desk, FixtureServer};

const HEADER: &str = "Timestamp,Action,Ticket number,Title,Description,Systems,Severity,Engineer,Start,End,Message";
const OPENS: u64 = 120;
const UPDATED: u64 = 40;
const CLOSED: std::ops::RangeInclusive<u64> = 41..=70;

fn ticket(n: u64) -> TicketNumber {
    TicketNumber::from_number(n).unwrap()
}

/// A US sheet's timestamp, `minute` minutes after 8:00 on 1 November 2026 (New York).
fn stamp(minute: u64) -> String {
    format!("11/01/2026 {}:{:02}:00", 8 + minute / 60, minute % 60)
}

/// The 200-row sheet, and the (row, field) of each of its 10 bad rows.
fn big_sheet() -> (String, Vec<(u64, &'static str)>) {
    let mut rows: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    let mut push_bad = |rows: &mut Vec<String>, row: String, field| {
        rows.push(row);
        bad.push((rows.len() as u64 + 1, field));
    };
    let systems = ["VPN", "\"Email, VPN\"", "\"Payroll, EU\"", "\"Office Wi-Fi, Payroll, EU\""];
    for n in 1..=OPENS {
        let m = rows.len() as u64;
        let sys = systems[(n % 4) as usize];
        rows.push(format!("{},Open,,Outage {n},Reported by row,{sys},sev3,Ada,,,", stamp(m)));
        let m = rows.len() as u64;
        match n {
            10 => push_bad(&mut rows, format!("{},Open,,Coffee,,Coffee Machine,sev3,,,,", stamp(m)), "Systems"),
            30 => push_bad(&mut rows, "yesterday,Open,,Late,,VPN,sev3,,,,".into(), "Timestamp"),
            50 => push_bad(&mut rows, format!("{},Open,,,,VPN,sev3,,,,", stamp(m)), "Title"),
            70 => push_bad(&mut rows, format!("{},Escalate,INC-3,,,,,,,,", stamp(m)), "Action"),
            90 => push_bad(&mut rows, format!("{},Open,,Bad sev,,VPN,urgent,,,,", stamp(m)), "Severity"),
            110 => push_bad(&mut rows, format!("{},Open,,Future,,VPN,sev3,,01/01/2027 9:00:00,,", stamp(m)), "Start"),
            _ => {}
        }
    }
    for n in 1..=UPDATED {
        let m = rows.len() as u64;
        rows.push(format!("{},Update,INC-{n},,,,sev1,,,,Escalated to the vendor", stamp(m)));
        let m = rows.len() as u64;
        match n {
            20 => push_bad(&mut rows, format!("{},Update,INC-9999,,,,sev1,,,,Hello", stamp(m)), "Ticket number"),
            30 => push_bad(&mut rows, format!("{},Update,,,,,sev1,,,,No ticket", stamp(m)), "Ticket number"),
            _ => {}
        }
    }
    for (i, n) in CLOSED.enumerate() {
        let m = rows.len() as u64;
        rows.push(format!("{},Close,INC-{n},,,,,,,{},Fixed", stamp(m), stamp(m)));
        let m = rows.len() as u64;
        match i + 1 {
            10 => push_bad(&mut rows, format!("{},Close,INC-41,,,,,,,,Again", stamp(m)), "Action"),
            20 => push_bad(&mut rows, format!("{},Close,INC-75,,,,,,,10/01/2026 9:00:00,Early", stamp(m)), "End"),
            _ => {}
        }
    }
    assert_eq!((rows.len(), bad.len()), (200, 10), "the fixture itself");
    (format!("{HEADER}\n{}\n", rows.join("\n")), bad)
}

fn config(server: &FixtureServer, sheet: &str) -> String {
    format!(
        r#"{{"sheets": [{sheet}], "allowed_hosts": ["127.0.0.1", "localhost"], "deny_private": true}}"#,
        sheet = sheet.replace("URL", &server.url("/export"))
    )
}

const US_SHEET: &str = r#"{"name": "desk", "url": "URL", "time_zone": "America/New_York"}"#;

#[tokio::test]
async fn a_200_row_sheet_behind_a_redirect_opens_updates_and_closes_the_right_incidents() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    server.set_sheet(big_sheet().0);
    let poller = desk.poller(&config(&server, US_SHEET));
    let report = poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();

    assert_eq!((report.rows, report.applied, report.bad), (200, 190, 10));
    assert!(desk.store.get(ticket(OPENS + 1)).await.unwrap().is_none(), "no bad row opened an incident");
    for n in 1..=OPENS {
        let incident = desk.store.get(ticket(n)).await.unwrap().unwrap();
        assert_eq!(incident.title.as_str(), format!("Outage {n}"));
        let severity = if n <= UPDATED { Severity::Sev1 } else { Severity::Sev3 };
        let status = if CLOSED.contains(&n) { Status::Resolved } else { Status::Investigating };
        assert_eq!((incident.severity, incident.status), (severity, status), "INC-{n}");
    }
    let first = desk.store.timeline(ticket(1)).await.unwrap();
    assert_eq!(first[0].actor.to_string(), "system:sheet:desk");
    assert_eq!(first[1].message.as_ref().map(|m| m.to_string()), Some("Escalated to the vendor".into()));
}

#[tokio::test]
async fn the_10_bad_rows_are_recorded_with_their_row_numbers_and_fields() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    let (body, expected) = big_sheet();
    server.set_sheet(body);
    let poller = desk.poller(&config(&server, US_SHEET));
    poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();

    let bad = desk.store.bad_rows("sheet:desk").await.unwrap();
    let got: Vec<(u64, &str)> = bad.iter().map(|b| (b.row, b.field.as_str())).collect();
    assert_eq!(got, expected);
    let reason = |row: u64| bad.iter().find(|b| b.row == row).map(|b| b.reason.clone()).unwrap();
    assert_eq!(reason(expected[0].0), "names an unknown system: Coffee Machine");
    assert_eq!(reason(expected[6].0), "names INC-9999, which does not exist");
}

#[tokio::test]
async fn polling_the_same_sheet_again_changes_nothing() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    server.set_sheet(big_sheet().0);
    let poller = desk.poller(&config(&server, US_SHEET));
    poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();
    let versions = |store: std::sync::Arc<dyn flare_core::Store>| async move {
        let mut v = Vec::new();
        for n in 1..=OPENS {
            v.push(store.get(ticket(n)).await.unwrap().unwrap().version);
        }
        v
    };
    let before = (versions(desk.store.clone()).await, desk.store.bad_rows("sheet:desk").await.unwrap());

    let again = poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();

    assert!(again.unchanged && again.applied == 0 && again.bad == 0, "{again:?}");
    assert_eq!((versions(desk.store.clone()).await, desk.store.bad_rows("sheet:desk").await.unwrap()), before);
    assert_eq!(server.answers.sheet_gets.load(Ordering::SeqCst), 2, "one fetch a poll, and nothing more");
}

#[tokio::test]
async fn a_grown_sheet_applies_only_its_new_row() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    let (body, _) = big_sheet();
    server.set_sheet(body.clone());
    let poller = desk.poller(&config(&server, US_SHEET));
    poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();
    server.set_sheet(format!("{body}{},Open,,Printer jam,,Email,sev4,,,,\n", stamp(300)));

    let report = poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();

    assert_eq!((report.rows, report.applied, report.bad), (201, 1, 0));
    assert_eq!(desk.store.get(ticket(OPENS + 1)).await.unwrap().unwrap().title.as_str(), "Printer jam");
}

/// A European export as people leave it: a byte order mark, a renamed question, quoted newlines and quotes,
/// blank rows, extra columns, formula-looking text, day/month times and an option holding a comma.
const MESSY: &str = "\u{FEFF}Timestamp,Action,Ticket number,What is broken?,Description,Systems,Severity,Engineer,\
Start,End,Message,Email Address,Column 13\r\n\
03/11/2026 09:15:00,Open,,Payroll portal down,\"Users see:\r\n\"\"502 Bad Gateway\"\"\",\"Payroll, EU, Email\",sev2,\
Zoë Müller,03/11/2026 09:00,,,zoe@example.com,\r\n\
,,,,,,,,,,,,\r\n\
04/11/2026 10:00:00,Open,,\"=HYPERLINK(\"\"https://status.example.com\"\",\"\"VPN status\"\")\",,VPN; Office Wi-Fi,\
sev3,,,,,,\r\n\
03/11/2026 11:45:00,Close,INC-1,,,,,,,03/11/2026 11:30:00,\"Fixed; see =SUM(A1:A3)\",,\r\n\
11/16/2026 8:02:11,Open,,US-style time,,VPN,sev3,,,,,,\r\n";

const EU_SHEET: &str = r#"{"name": "eu", "url": "URL", "time_zone": "Europe/Berlin",
    "timestamp_format": "%d/%m/%Y %H:%M:%S", "columns": {"title": ["What is broken?", "Title"]}}"#;

async fn poll_messy(desk: &Desk) -> FixtureServer {
    let server = FixtureServer::start().await;
    server.set_sheet(MESSY);
    let poller = desk.poller(&config(&server, EU_SHEET));
    poller.poll_sheet(&poller.config().sheets[0]).await.unwrap();
    server
}

#[tokio::test]
async fn a_messy_export_opens_its_incident_with_every_cell_read_as_written() {
    let desk = Desk::new().await;
    let _server = poll_messy(&desk).await;

    let payroll = desk.store.get(ticket(1)).await.unwrap().unwrap();
    assert_eq!(payroll.title.as_str(), "Payroll portal down");
    assert_eq!(payroll.description.as_str(), "Users see:\n\"502 Bad Gateway\"");
    let systems: Vec<&str> = payroll.systems.iter().map(|s| s.system.as_str()).collect();
    assert_eq!(systems, ["payroll-eu", "email"]);
    assert_eq!(payroll.engineer.as_ref().map(|e| e.as_str()), Some("Zoë Müller"));
    assert_eq!(payroll.started_at, datetime!(2026-11-03 08:00 UTC), "day/month, Berlin time");
}

#[tokio::test]
async fn formula_looking_text_stays_text() {
    let desk = Desk::new().await;
    let _server = poll_messy(&desk).await;

    let vpn = desk.store.get(ticket(2)).await.unwrap().unwrap();
    assert_eq!(vpn.title.as_str(), "=HYPERLINK(\"https://status.example.com\",\"VPN status\")");
    let systems: Vec<&str> = vpn.systems.iter().map(|s| s.system.as_str()).collect();
    assert_eq!(systems, ["vpn", "wifi"]);
}

#[tokio::test]
async fn a_messy_close_row_resolves_at_its_european_end_time() {
    let desk = Desk::new().await;
    let _server = poll_messy(&desk).await;

    let payroll = desk.store.get(ticket(1)).await.unwrap().unwrap();
    assert_eq!(payroll.resolved_at, Some(datetime!(2026-11-03 10:30 UTC)));
}

#[tokio::test]
async fn a_bad_row_after_a_blank_one_is_named_by_its_sheet_row_number() {
    let desk = Desk::new().await;
    let _server = poll_messy(&desk).await;

    let bad: Vec<BadRow> = desk.store.bad_rows("sheet:eu").await.unwrap();
    let got: Vec<(u64, &str, &str)> = bad.iter().map(|b| (b.row, b.field.as_str(), b.reason.as_str())).collect();
    assert_eq!(got, [(6, "Timestamp", "is not a time in the form dd/mm/yyyy hh:mm:ss")]);
}

#[tokio::test]
async fn a_scheduled_run_whose_sheet_cannot_be_fetched_fails_naming_the_source() {
    let (server, desk) = (FixtureServer::start().await, Desk::new().await);
    let missing = r#"{"name": "gone", "url": "URL/missing", "time_zone": "UTC"}"#.replace("URL", &server.url(""));
    let config = format!(r#"{{"sheets": [{missing}], "allowed_hosts": ["127.0.0.1"]}}"#);

    let e = desk.poller(&config).run_scheduled().await.unwrap_err();

    assert_eq!(e.to_string(), "1 of 1 poll sources failed: sheet:gone");
    let state = desk.store.poll_source("sheet:gone").await.unwrap().unwrap();
    assert_eq!(state.last_error.as_deref(), Some("the source answered 404"));
}
