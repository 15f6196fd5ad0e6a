//! The `flare` command: runs a self-hosted Flare and administers it.
//!
//! `main` only parses arguments, sets up logging and dispatches; each command lives in its own module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod channels;
mod demo;
mod keys;
mod poll;
mod report;
mod serve;
mod systems;
mod users;

/// Flare: the help desk's incident and outage system.
#[derive(Debug, Parser)]
#[command(name = "flare", version, about, long_about = None)]
struct Cli {
    /// The SQLite database of a self-hosted installation; created on first use.
    #[arg(long, global = true, env = "FLARE_DB", default_value = "./flare.db")]
    db: PathBuf,

    /// What to do; without one, `serve` with its defaults.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Flare: the form, the dashboard and the API, on the embedded database.
    Serve(serve::ServeArgs),
    /// Manage people who sign in to the form.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manage API keys for monitoring tools and dashboards.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage the systems catalog and who is told when a system breaks.
    #[command(subcommand)]
    Systems(systems::SystemsCommand),
    /// Run the poller's sheets and probes now, or show what they last did.
    #[command(subcommand)]
    Poll(poll::PollCommand),
    /// Post-incident reports and the weekly digest: send them now, or preview them as HTML.
    #[command(subcommand)]
    Report(report::ReportCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLARE_LOG").unwrap_or_else(|_| "flare=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve::run(&cli.db, serve::ServeArgs::parse_from(["serve"])).await,
        Some(Command::Serve(args)) => serve::run(&cli.db, args).await,
        Some(Command::Users(command)) => users::run(&cli.db, command).await,
        Some(Command::Keys(command)) => keys::run(&cli.db, command).await,
        Some(Command::Systems(command)) => systems::run(&cli.db, command).await,
        Some(Command::Poll(command)) => poll::run(&cli.db, command).await,
        Some(Command::Report(command)) => report::run(&cli.db, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
