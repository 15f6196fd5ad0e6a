//! `flare systems import` end to end: the real binary on a CSV file with good and bad rows and a temporary
//! database, which is then read with the store itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use flare_core::{CatalogStore, SystemId};
use flare_embedded::SqliteStore;

const FLARE: &str = env!("CARGO_BIN_EXE_flare");

fn import(db: &Path, csv: &Path, extra: &[&str]) -> Output {
    Command::new(FLARE)
        .arg("--db")
        .arg(db)
        .args(["systems", "import"])
        .arg(csv)
        .args(extra)
        .env("FLARE_LOG", "off")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const MIXED: &str = "\
System,System_Name,Email,Phone,Name
vpn,VPN,ada@example.com,,Ada
vpn,VPN,not-an-address,,Bob
wiki,,,+1 415 555 0123,Carol
BAD ID,,dan@example.com,,
vpn,VPN,,,Nobody
wiki,,Ada@Example.com,,Ada again
vpn,VPN,eve@example.com,,Eve,extra
";

async fn subscribers(db: &Path, system: &str) -> Vec<String> {
    let store = SqliteStore::open(db).unwrap();
    let list = store.subscribers(&SystemId::parse("system", system).unwrap()).await.unwrap();
    let mut contacts: Vec<String> = list.iter().map(|s| s.contact_key()).collect();
    contacts.sort();
    contacts
}

#[tokio::test]
async fn good_rows_are_imported_and_bad_rows_are_reported_by_line_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = (dir.path().join("flare.db"), dir.path().join("subscribers.csv"));
    std::fs::write(&csv, MIXED).unwrap();

    let output = import(&db, &csv, &[]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("line 3: email: must be an email address"), "{err}");
    assert!(err.contains("line 5: system: must be a system id"), "{err}");
    assert!(err.contains("line 6: email: an email address or a phone number is required"), "{err}");
    assert!(err.contains("line 8: row: has 6 fields, but the header names 5"), "{err}");
    assert!(err.contains("imported 3 subscribers for 2 systems; skipped 4 bad rows"), "{err}");

    assert_eq!(subscribers(&db, "vpn").await, ["email:ada@example.com"]);
    assert_eq!(subscribers(&db, "wiki").await, ["email:ada@example.com", "phone:+14155550123"]);
    let store = SqliteStore::open(&db).unwrap();
    let wiki = store.get_system(&SystemId::parse("system", "wiki").unwrap()).await.unwrap().unwrap();
    assert_eq!(wiki.name.as_str(), "wiki", "a system without system_name is named by its id");
}

#[tokio::test]
async fn importing_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = (dir.path().join("flare.db"), dir.path().join("subscribers.csv"));
    std::fs::write(&csv, MIXED).unwrap();
    assert!(import(&db, &csv, &[]).status.success());
    assert!(import(&db, &csv, &[]).status.success());
    assert_eq!(subscribers(&db, "wiki").await.len(), 2);
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = (dir.path().join("flare.db"), dir.path().join("subscribers.csv"));
    std::fs::write(&csv, MIXED).unwrap();
    let output = import(&db, &csv, &["--dry-run"]);
    assert!(stderr(&output).contains("would import 3 subscribers for 2 systems"), "{}", stderr(&output));
    assert!(subscribers(&db, "vpn").await.is_empty());
}

#[test]
fn a_file_without_valid_rows_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = (dir.path().join("flare.db"), dir.path().join("subscribers.csv"));
    std::fs::write(&csv, "system,email\nvpn,nope\n").unwrap();
    let output = import(&db, &csv, &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no valid rows"), "{}", stderr(&output));
}

#[test]
fn unknown_columns_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = (dir.path().join("flare.db"), dir.path().join("subscribers.csv"));
    std::fs::write(&csv, "system,email,department\nvpn,ada@example.com,IT\n").unwrap();
    let output = import(&db, &csv, &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("unknown columns: department"), "{}", stderr(&output));
}

#[test]
fn a_missing_file_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let output = import(&dir.path().join("flare.db"), &dir.path().join("nope.csv"), &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("nope.csv"), "{}", stderr(&output));
}
