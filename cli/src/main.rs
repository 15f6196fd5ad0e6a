//! The `flare` command: runs a self-hosted Flare and administers it.
//!
//! `main` only parses arguments, sets up logging and dispatches; each command lives in its own module, and
//! `store` opens the store the global flags name.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use store::Backend;

mod channels;
mod demo;
mod keys;
mod poll;
mod report;
mod serve;
mod store;
mod systems;
mod users;

/// Flare: the help desk's incident and outage system.
#[derive(Debug, Parser)]
#[command(name = "flare", version, about, long_about = None)]
struct Cli {
    /// The SQLite database of a self-hosted installation; created on first use.
    #[arg(long, global = true, env = "FLARE_DB", default_value = "./flare.db")]
    db: PathBuf,

    /// The stack's DynamoDB table (its `TableName` output): `users`, `keys` and `systems import` then work on
    /// it instead of the SQLite database. Credentials, region and endpoint come from the usual AWS settings:
    /// AWS_PROFILE (or `aws sso login`), AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB.
    #[arg(long, global = true, env = "FLARE_TABLE", value_name = "NAME")]
    table: Option<String>,

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
    let result = run(Cli::parse()).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What runs Flare on AWS, for the commands that run it here.
const SERVED_ON_AWS: &str = "the stack's Lambda functions serve Flare";

async fn run(cli: Cli) -> anyhow::Result<()> {
    let backend = Backend::new(cli.db, cli.table);
    match cli.command {
        None => {
            serve::run(backend.sqlite_only("flare serve", SERVED_ON_AWS)?, serve::ServeArgs::parse_from(["serve"]))
                .await
        }
        Some(Command::Serve(args)) => serve::run(backend.sqlite_only("flare serve", SERVED_ON_AWS)?, args).await,
        Some(Command::Users(command)) => users::run(&backend, command).await,
        Some(Command::Keys(command)) => keys::run(&backend, command).await,
        Some(Command::Systems(command)) => systems::run(&backend, command).await,
        Some(Command::Poll(command)) => {
            let db = backend.sqlite_only("flare poll", "the flare-poller function polls on its schedule")?;
            poll::run(db, command).await
        }
        Some(Command::Report(command)) => {
            let db = backend.sqlite_only("flare report", "the flare-reporter function sends reports and the digest")?;
            report::run(db, command).await
        }
    }
}
