//! `flare systems import FILE.csv`: loads systems and their subscribers from a spreadsheet export.
//!
//! Rows are checked one by one: a bad row is reported with its line number and skipped, the rest are written as
//! they are read, so a crash midway keeps what was written. Re-running is safe, because a subscriber replaces
//! the one with the same contact. Files are bounded in size and rows, and counted once first so the progress
//! bar knows its length. It fills the SQLite database or, with `--table`, the stack's DynamoDB table, through
//! the catalog port.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use flare_core::text::{PersonName, SystemName};
use flare_core::{CatalogStore, EmailAddress, FieldError, PhoneNumber, Subscriber, System, SystemId, ValidationErrors};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::Backend;

/// Larger files are refused: split them.
const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
const MAX_ROWS: u64 = 200_000;
/// Columns a file may have, in the documented order.
const COLUMNS: [&str; 5] = ["system", "system_name", "email", "phone", "name"];
/// The bar is only worth showing for files that take a moment.
const PROGRESS_MIN_ROWS: u64 = 1_000;

#[derive(Debug, Subcommand)]
pub(crate) enum SystemsCommand {
    /// Import systems and subscribers from a CSV file.
    #[command(after_long_help = "\
The file is CSV (comma-separated, UTF-8) with a header row naming its columns:

  system,system_name,email,phone,name

Header names are case-insensitive and may come in any order; `system` is required, the others optional, and
other columns are refused. Each row adds one subscriber to a system, which is created if missing (named by
system_name, else by its id). A row needs an email address or a phone number (international form, like
+14155550123), or both.

Bad rows are reported as `line N: FIELD: REASON` and skipped; the rest are imported. A subscriber with the same
email (else phone) in the same system is replaced, so importing a file twice changes nothing.

Files over 50 MB or 200,000 rows are refused: split them.")]
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Check the file and report what would be imported, without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) async fn run(backend: &Backend, command: SystemsCommand) -> anyhow::Result<()> {
    match command {
        SystemsCommand::Import { file, dry_run } => {
            // Check the file before creating a database for it.
            let rows = count_rows(&file)?;
            let store = backend.open().await?;
            import(&*store, &file, rows, dry_run).await
        }
    }
}

/// Where each column is in a row.
#[derive(Debug)]
struct Columns {
    system: usize,
    system_name: Option<usize>,
    email: Option<usize>,
    phone: Option<usize>,
    name: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> anyhow::Result<Self> {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        let unknown: Vec<&str> = names.iter().map(String::as_str).filter(|n| !COLUMNS.contains(n)).collect();
        if !unknown.is_empty() {
            bail!(
                "the header has unknown columns: {}; the columns are {} (see `flare systems import --help`)",
                unknown.join(", "),
                COLUMNS.join(",")
            );
        }
        let mut seen = HashSet::new();
        if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
            bail!("the header names the column {twice} twice");
        }
        let find = |name: &str| names.iter().position(|n| n == name);
        let Some(system) = find("system") else {
            bail!("the header has no `system` column; the columns are {}", COLUMNS.join(","));
        };
        if find("email").is_none() && find("phone").is_none() {
            bail!("the header needs an `email` or a `phone` column; the columns are {}", COLUMNS.join(","));
        }
        Ok(Self {
            system,
            system_name: find("system_name"),
            email: find("email"),
            phone: find("phone"),
            name: find("name"),
        })
    }
}

/// One valid row.
#[derive(Debug)]
struct Row {
    system: SystemId,
    system_name: Option<SystemName>,
    subscriber: Subscriber,
}

/// A row's values, or every field that is wrong with it.
fn parse_row(columns: &Columns, record: &csv::StringRecord) -> Result<Row, Vec<FieldError>> {
    let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).filter(|s| !s.is_empty());
    let mut errors = ValidationErrors::new();
    let system = errors.check(SystemId::parse("system", cell(Some(columns.system)).unwrap_or_default()));
    let system_name = cell(columns.system_name).and_then(|n| errors.check(SystemName::parse("system_name", n)));
    let email = cell(columns.email).and_then(|e| errors.check(EmailAddress::parse("email", e)));
    let phone = cell(columns.phone).and_then(|p| errors.check(PhoneNumber::parse("phone", p)));
    let name = cell(columns.name).and_then(|n| errors.check(PersonName::parse("name", n)));
    if cell(columns.email).is_none() && cell(columns.phone).is_none() {
        errors.push("email", "an email address or a phone number is required");
    }
    match system {
        Some(system) if errors.is_empty() => Subscriber::new(system.clone(), email, phone, name)
            .map(|subscriber| Row { system, system_name, subscriber })
            .map_err(|e| vec![e]),
        _ => Err(errors.0),
    }
}

fn reader(file: &Path) -> anyhow::Result<csv::Reader<File>> {
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
    if size > MAX_FILE_BYTES {
        bail!(
            "{} is {} MB; files over {} MB are refused: split it into smaller files",
            file.display(),
            size / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        );
    }
    let f = File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    // Rows of the wrong length are bad rows, reported with the others, not a reason to stop.
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(f))
}

/// The number of data rows, refusing files that are too large.
fn count_rows(file: &Path) -> anyhow::Result<u64> {
    let mut reader = reader(file)?;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => rows += 1,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(e).with_context(|| format!("cannot read {}", file.display()));
            }
            // Reported with its line number on the real pass.
            Err(_) => rows += 1,
        }
        if rows > MAX_ROWS {
            bail!("{} has more than {MAX_ROWS} rows; split it into smaller files", file.display());
        }
    }
    Ok(rows)
}

fn progress_bar(rows: u64) -> ProgressBar {
    if rows < PROGRESS_MIN_ROWS || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

async fn import(store: &dyn CatalogStore, file: &Path, rows: u64, dry_run: bool) -> anyhow::Result<()> {
    let mut reader = reader(file)?;
    let header = reader.headers().with_context(|| format!("cannot read the header row of {}", file.display()))?;
    let columns = Columns::from_header(header)?;
    let width = header.len();
    let mut known: HashSet<SystemId> = store.list_systems().await?.into_iter().map(|s| s.id).collect();
    let bar = progress_bar(rows);
    let (mut imported, mut skipped) = (0u64, 0u64);
    let mut systems = BTreeSet::new();
    for result in reader.records() {
        bar.inc(1);
        let record = match result {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                bar.finish_and_clear();
                return Err(e).with_context(|| format!("cannot read {}", file.display()));
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                bar.suspend(|| eprintln!("line {line}: row: {e}"));
                skipped += 1;
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() > width {
            bar.suspend(|| eprintln!("line {line}: row: has {} fields, but the header names {width}", record.len()));
            skipped += 1;
            continue;
        }
        let row = match parse_row(&columns, &record) {
            Ok(row) => row,
            Err(errors) => {
                bar.suspend(|| {
                    for e in &errors {
                        eprintln!("line {line}: {}: {}", e.field, e.reason);
                    }
                });
                skipped += 1;
                continue;
            }
        };
        if !dry_run {
            if !known.contains(&row.system) {
                let name = match row.system_name {
                    Some(n) => n,
                    None => SystemName::parse("system", row.system.as_str())?,
                };
                store.put_system(&System { id: row.system.clone(), name, owner: None, owner_email: None }).await?;
            }
            store.put_subscriber(&row.subscriber).await.with_context(|| format!("line {line}: cannot store"))?;
        }
        known.insert(row.system.clone());
        systems.insert(row.system);
        imported += 1;
    }
    bar.finish_and_clear();
    let verb = if dry_run { "would import" } else { "imported" };
    eprintln!("{verb} {imported} subscribers for {} systems; skipped {skipped} bad rows", systems.len());
    if imported == 0 {
        bail!("{} has no valid rows: nothing was imported", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(header: &[&str]) -> anyhow::Result<Columns> {
        Columns::from_header(&csv::StringRecord::from(header.to_vec()))
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let c = columns(&["System", "EMAIL", "Phone"]).unwrap();
        assert_eq!((c.system, c.email, c.phone), (0, Some(1), Some(2)));
    }

    #[test]
    fn unknown_columns_are_refused_by_name() {
        let e = columns(&["system", "email", "department", "cost"]).unwrap_err().to_string();
        assert!(e.contains("department, cost"), "{e}");
    }

    #[test]
    fn a_row_without_a_contact_is_bad() {
        let c = columns(&["system", "email", "phone"]).unwrap();
        let errors = parse_row(&c, &csv::StringRecord::from(vec!["vpn", "", " "])).unwrap_err();
        assert_eq!(errors[0].field, "email");
    }
}
