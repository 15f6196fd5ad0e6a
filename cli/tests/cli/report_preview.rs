//! `flare report preview` end to end: the real binary on the demo data in a temporary database writes an
//! incident's report and last week's digest as files, the digest's chart beside it, and sends nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const FLARE: &str = env!("CARGO_BIN_EXE_flare");

#[test]
fn the_preview_writes_the_report_and_the_digest_with_its_chart_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("preview");
    let output = Command::new(FLARE)
        .arg("--db")
        .arg(dir.path().join("flare.db"))
        .args(["report", "preview", "--demo", "--ticket", "INC-1", "--out"])
        .arg(&out)
        .env("FLARE_LOG", "off")
        .env_remove("FLARE_SMTP_HOST")
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Post-incident report · INC-1"), "{report}");
    let digest = std::fs::read_to_string(out.join("digest.html")).unwrap();
    assert!(digest.contains(r#"src="incidents-per-day.png""#), "the chart is the file beside it: {digest}");
    assert_eq!(&std::fs::read(out.join("incidents-per-day.png")).unwrap()[..4], b"\x89PNG");
}
