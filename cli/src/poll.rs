//! `flare poll`: run every configured source now (`once`), or show what each source's last run left behind
//! (`status`): its last run, its cursor and its bad rows, and each probe's latest checks. Sources are configured
//! by `FLARE_POLL_SOURCES` or `FLARE_POLL_FILE` (see `flare_poll::config`); `flare serve` runs them on an
//! interval.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use flare_core::config::Env;
use flare_core::poll::PollStore;
use flare_core::timefmt::rfc3339;
use flare_core::{IncidentService, SystemClock};
use flare_embedded::SqliteStore;
use flare_poll::{PollConfig, Poller};

/// How many of a probe's checks `status` shows.
const CHECKS_SHOWN: usize = 5;

#[derive(Debug, Subcommand)]
pub(crate) enum PollCommand {
    /// Poll every sheet and run every probe once, now.
    Once,
    /// Show each source's last run, cursor and bad rows, and each probe's latest checks.
    Status,
}

pub(crate) async fn run(db: &Path, command: PollCommand) -> anyhow::Result<()> {
    let store = SqliteStore::open(db).with_context(|| format!("cannot open the database {}", db.display()))?;
    match command {
        PollCommand::Once => {
            let config = PollConfig::from_env(&Env::process())?;
            if config.is_empty() {
                eprintln!("No sources configured: set FLARE_POLL_SOURCES (JSON) or FLARE_POLL_FILE (a JSON file).");
                return Ok(());
            }
            let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
            let report = Poller::new(service, config)?.run_once().await;
            for run in &report.sources {
                match (&run.error, &run.sheet, &run.probe) {
                    (Some(e), _, _) => println!("{}\tfailed: {e}", run.source),
                    (None, Some(s), _) if s.unchanged => println!("{}\tunchanged ({} rows)", run.source, s.rows),
                    (None, Some(s), _) => {
                        println!("{}\t{} rows: {} applied, {} bad", run.source, s.rows, s.applied, s.bad);
                    }
                    (None, None, Some(p)) => {
                        let result = p.reason.as_deref().unwrap_or("ok");
                        println!("{}\t{result}; incident: {}", run.source, p.action);
                    }
                    (None, None, None) => println!("{}\tdone", run.source),
                }
            }
            if report.failed() > 0 {
                anyhow::bail!("{} of {} sources failed", report.failed(), report.sources.len());
            }
        }
        PollCommand::Status => status(&store).await?,
    }
    Ok(())
}

async fn status(store: &SqliteStore) -> anyhow::Result<()> {
    let sources = store.poll_sources().await?;
    if sources.is_empty() {
        println!("No source has run yet: `flare poll once` runs them now.");
    }
    for s in sources {
        let last = s.last_run.map_or_else(|| "never".to_string(), rfc3339);
        println!("{}\tlast run {last}", s.source);
        if let Some(e) = &s.last_error {
            println!("  last error: {e}");
        }
        if let Some(p) = &s.probe {
            let open = p.open.map_or_else(|| "none".to_string(), |t| t.to_string());
            println!("  {} failures, {} successes in a row; open incident: {open}", p.failures, p.successes);
            for c in store.checks(&s.source, CHECKS_SHOWN).await? {
                let result = if c.ok { "ok".to_string() } else { c.reason.unwrap_or_default() };
                println!("  check {}\t{}\t{result}\t{} ms", c.seq, rfc3339(c.at), c.elapsed_ms);
            }
        } else {
            println!(
                "  cursor: {} rows read; body {}",
                s.rows,
                s.body_hash.as_deref().map_or("not read yet", |h| &h[..12.min(h.len())])
            );
            for b in store.bad_rows(&s.source).await? {
                println!("  bad row {}\t{}: {}", b.row, b.field, b.reason);
            }
        }
    }
    Ok(())
}
