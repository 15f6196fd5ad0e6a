//! The poller's state: each source's record, the rows it handled (bad ones with their row, field and reason),
//! and each probe's checks, kept to a bounded number and read newest first.

use flare_core::poll::{BadRow, CHECKS_KEPT, ProbeCheck, ProbeState, SourceState};
use time::Duration;

use crate::support::{Backend, NOW};

fn bad(source: &str, row: u64, key: &str) -> BadRow {
    BadRow {
        source: source.into(),
        row,
        key: key.into(),
        field: "Systems".into(),
        reason: "names an unknown system: Coffee".into(),
        at: NOW,
    }
}

fn check(source: &str, seq: u64) -> ProbeCheck {
    let ok = seq.is_multiple_of(2);
    ProbeCheck {
        source: source.into(),
        seq,
        at: NOW + Duration::minutes(seq as i64),
        ok,
        status: Some(if ok { 200 } else { 503 }),
        elapsed_ms: 12,
        reason: (!ok).then(|| "answered 503".to_string()),
    }
}

pub async fn a_source_state_reads_back_as_replaced_and_sources_list_by_name(b: Backend) {
    let mut sheet = SourceState::new("sheet:desk");
    sheet.etag = Some("\"v1\"".into());
    sheet.rows = 12;
    let mut probe = SourceState::new("probe:vpn");
    probe.probe = Some(ProbeState { failures: 2, ..ProbeState::default() });
    b.store.put_poll_source(&sheet).await.unwrap();
    b.store.put_poll_source(&probe).await.unwrap();
    sheet.last_run = Some(NOW);
    sheet.body_hash = Some("abc".into());
    b.store.put_poll_source(&sheet).await.unwrap();

    assert_eq!(b.store.poll_source("sheet:desk").await.unwrap(), Some(sheet.clone()));
    assert_eq!(b.store.poll_sources().await.unwrap(), [probe, sheet]);
    assert_eq!(b.store.poll_source("sheet:other").await.unwrap(), None);
}

pub async fn a_row_is_handled_once_and_only_bad_rows_are_listed_by_row_number(b: Backend) {
    assert!(!b.store.row_handled("sheet:desk", "k1").await.unwrap());
    b.store.mark_row("sheet:desk", "k1", None).await.unwrap();
    b.store.mark_row("sheet:desk", "k9", Some(&bad("sheet:desk", 9, "k9"))).await.unwrap();
    b.store.mark_row("sheet:desk", "k3", Some(&bad("sheet:desk", 3, "k3"))).await.unwrap();
    b.store.mark_row("sheet:desk", "k3", Some(&bad("sheet:desk", 3, "k3"))).await.unwrap();

    assert!(b.store.row_handled("sheet:desk", "k1").await.unwrap());
    assert!(b.store.row_handled("sheet:desk", "k9").await.unwrap());
    assert!(!b.store.row_handled("sheet:other", "k1").await.unwrap());
    let rows: Vec<u64> = b.store.bad_rows("sheet:desk").await.unwrap().iter().map(|r| r.row).collect();
    assert_eq!(rows, [3, 9]);
    assert_eq!(b.store.bad_rows("sheet:desk").await.unwrap()[0], bad("sheet:desk", 3, "k3"));
}

pub async fn a_probe_keeps_only_its_latest_checks_newest_first(b: Backend) {
    let total = CHECKS_KEPT + 5;
    for seq in 1..=total {
        b.store.record_check(&check("probe:vpn", seq)).await.unwrap();
    }
    b.store.record_check(&check("probe:mail", 1)).await.unwrap();

    let latest = b.store.checks("probe:vpn", 3).await.unwrap();
    assert_eq!(latest, [check("probe:vpn", total), check("probe:vpn", total - 1), check("probe:vpn", total - 2)]);
    let all = b.store.checks("probe:vpn", usize::MAX).await.unwrap();
    assert_eq!(all.len() as u64, CHECKS_KEPT);
    assert_eq!(all.last().map(|c| c.seq), Some(total - CHECKS_KEPT + 1));
}
