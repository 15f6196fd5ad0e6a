//! `flare report`: the reporter by hand. `due` sends the post-incident reports that are due now, `digest` last
//! week's digest, and `preview` writes an incident's report and last week's digest as HTML files (the chart
//! beside them) without sending anything, to see what the owners and stakeholders will get.
//!
//! Mail goes out as `flare serve` sends it: over SMTP when FLARE_SMTP_HOST is set, or into `--outbox`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use flare_core::config::Env;
use flare_core::report::{DIGEST_CHART_CID, ReportSettings, Reporter};
use flare_core::timefmt::rfc3339;
use flare_core::{IncidentService, SystemClock, TicketNumber};
use flare_embedded::SqliteStore;

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Send every post-incident report that is due and not sent yet.
    Due(MailArgs),
    /// Send last week's digest (Monday to Monday, UTC) now.
    Digest(MailArgs),
    /// Write an incident's report and last week's digest as HTML into a directory; nothing is sent.
    Preview {
        /// The incident, e.g. INC-7.
        #[arg(long)]
        ticket: String,
        /// Where to write report.html, digest.html and the digest's chart.
        #[arg(long)]
        out: PathBuf,
        /// Seed the demo catalog and incidents first, into an empty database.
        #[arg(long)]
        demo: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct MailArgs {
    /// Development only: write the mail as `.eml` files into this directory instead of sending it.
    #[arg(long, env = "FLARE_OUTBOX_DIR")]
    outbox: Option<PathBuf>,
}

pub(crate) async fn run(db: &Path, command: ReportCommand) -> anyhow::Result<()> {
    let store = SqliteStore::open(db).with_context(|| format!("cannot open the database {}", db.display()))?;
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    let env = Env::process();
    let public_url = env.optional("FLARE_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    let settings = ReportSettings::from_env(&env, &public_url)?;
    match command {
        ReportCommand::Due(args) => {
            let run = reporter(service, settings, &env, &args)?.send_due_reports().await?;
            eprintln!(
                "Sent {} post-incident report(s); {} already sent by another run; {} recipient(s) failed.",
                run.sent.len(),
                run.already_claimed,
                run.failed.len()
            );
        }
        ReportCommand::Digest(args) => {
            let reporter = reporter(service, settings, &env, &args)?;
            let run = reporter.send_digest().await?;
            let week = format!("{} to {}", run.from.date(), (run.to - time::Duration::days(1)).date());
            if run.sent_before {
                eprintln!("The digest of {week} was sent already; nothing was sent again.");
            } else {
                eprintln!("Sent the digest of {week} to {} recipient(s); {} failed.", run.sent.len(), run.failed.len());
            }
            // The ledger's record of the week, so a reader sees who got it and when, whichever run sent it.
            for batch in reporter.last_week_deliveries().await? {
                let refused: Vec<String> = batch.refused.iter().map(|r| format!("{} ({})", r.to, r.reason)).collect();
                match batch.batch % 2 {
                    1 => eprintln!("  ledger batch {}: claimed at {}", batch.batch, rfc3339(batch.at)),
                    _ => eprintln!(
                        "  ledger batch {}: at {}, sent to {}; refused: {}",
                        batch.batch,
                        rfc3339(batch.at),
                        if batch.sent.is_empty() { "nobody".to_string() } else { batch.sent.join(", ") },
                        if refused.is_empty() { "none".to_string() } else { refused.join(", ") }
                    ),
                }
            }
        }
        ReportCommand::Preview { ticket, out, demo } => {
            if demo {
                crate::demo::seed(&service).await?;
            }
            let ticket = TicketNumber::parse("--ticket", &ticket)?;
            // Nothing is sent: the reporter gets a mailer that refuses, to keep one code path for rendering.
            let reporter = Reporter::new(service, Arc::new(crate::channels::NoMail), settings);
            let Some(report) = reporter.render_incident(ticket).await? else { bail!("there is no incident {ticket}") };
            let digest = reporter.render_last_week().await?;
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let chart = "incidents-per-day.png";
            let digest_html = digest.rendered.html.replace(&format!("cid:{DIGEST_CHART_CID}"), chart);
            for (name, bytes) in [
                ("report.html", report.html.as_bytes()),
                ("report.txt", report.text.as_bytes()),
                ("digest.html", digest_html.as_bytes()),
                ("digest.txt", digest.rendered.text.as_bytes()),
                (chart, &digest.chart_png),
            ] {
                let path = out.join(name);
                std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

fn reporter<F: Fn(&str) -> Option<String>>(
    service: IncidentService,
    settings: ReportSettings,
    env: &Env<F>,
    args: &MailArgs,
) -> anyhow::Result<Reporter> {
    let Some(mailer) = crate::channels::from_env(env, args.outbox.as_deref())?.mailer else {
        bail!("mail is off: set FLARE_SMTP_HOST (or --outbox for development)");
    };
    Ok(Reporter::new(service, mailer, settings))
}
