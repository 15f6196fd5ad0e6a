//! `flare serve`: the self-hosted Flare. One process on an embedded SQLite database serving the same routers
//! the Lambdas run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use std::time::Duration;

use flare_core::config::Env;
use flare_core::report::{ReportSettings, Reporter};
use flare_core::{AccessStore, IncidentService, SystemClock};
use flare_core::{Dispatcher, Links};
use flare_embedded::{ReportSchedule, SqliteStore, Worker};
use flare_http::{AppState, CorsOrigin, HttpConfig, SessionKey};
use tracing::info;

#[derive(Debug, Parser)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FLARE_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Seed a small catalog and sample incidents (only into an empty database).
    #[arg(long)]
    demo: bool,
    /// Let anyone read the dashboard and its JSON; with `false`, reads need an API key or a signed-in user.
    #[arg(long, env = "FLARE_PUBLIC_READS", default_value_t = true, action = clap::ArgAction::Set)]
    public_reads: bool,
    /// With public reads, how long a caching proxy or CDN in front of Flare may serve an anonymous reader's page,
    /// JSON and feed before asking again, in seconds (0 to 3600). Browsers still revalidate every time.
    #[arg(long, env = "FLARE_SHARED_CACHE_SECS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=3600))]
    shared_cache_secs: u32,
    /// Origins allowed to read the JSON API from a browser, comma separated.
    #[arg(long = "cors-origin", env = "FLARE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Mark cookies Secure: set this when Flare is served over HTTPS (behind a TLS proxy).
    #[arg(long, env = "FLARE_SECURE_COOKIES")]
    secure_cookies: bool,
    /// File holding the key that signs session cookies and unsubscribe links; created on first start. Defaults
    /// to `<db>.key`.
    #[arg(long, env = "FLARE_SESSION_KEY_FILE")]
    session_key_file: Option<PathBuf>,
    /// The address people reach Flare at, for the links in notices: `https://flare.example.com`. Defaults to
    /// the address served on.
    #[arg(long, env = "FLARE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Development only: write notices as `.eml` files into this directory instead of sending them. Mail is
    /// otherwise sent over SMTP when FLARE_SMTP_HOST is set.
    #[arg(long, env = "FLARE_OUTBOX_DIR")]
    outbox: Option<PathBuf>,
    /// Serve the files of this directory at `/static/` (a logo or a stylesheet of your own). Off by default.
    #[arg(long, env = "FLARE_STATIC_DIR")]
    static_dir: Option<PathBuf>,
    /// How often the notification worker looks for queued events, in seconds.
    #[arg(long, env = "FLARE_WORKER_POLL_SECS", default_value_t = 2)]
    worker_poll_secs: u64,
    /// How often the poller runs its sheets and probes (FLARE_POLL_SOURCES or FLARE_POLL_FILE), in seconds.
    #[arg(long, env = "FLARE_POLL_INTERVAL_SECS", default_value_t = 60)]
    poll_interval_secs: u64,
    /// How often the reporter looks for post-incident reports that are due, in seconds.
    #[arg(long, env = "FLARE_REPORT_POLL_SECS", default_value_t = 300)]
    report_poll_secs: u64,
    /// The hour (UTC) on Monday at which the weekly digest of the week before goes out.
    #[arg(long, env = "FLARE_DIGEST_HOUR", default_value_t = 7, value_parser = clap::value_parser!(u8).range(0..24))]
    digest_hour: u8,
}

pub(crate) async fn run(db: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let fresh = !db.exists();
    let store = SqliteStore::open(db).with_context(|| format!("cannot open the database {}", db.display()))?;
    let store = Arc::new(store);
    let service = IncidentService::new(store.clone(), Arc::new(SystemClock));
    if args.demo && crate::demo::seed(&service).await? {
        info!("seeded the demo catalog and sample incidents");
    }

    let key_file = args.session_key_file.unwrap_or_else(|| db.with_extension("key"));
    let session_key = SessionKey::load_or_create(&key_file)
        .with_context(|| format!("cannot read or create the session key file {}", key_file.display()))?;
    let cors_origins = args.cors_origins.iter().filter(|o| !o.is_empty()).map(|o| CorsOrigin::parse(o));
    let config = HttpConfig {
        public_reads: args.public_reads,
        cors_origins: cors_origins.collect::<Result<_, _>>()?,
        secure_cookies: args.secure_cookies,
        session_key,
        shared_cache_secs: args.shared_cache_secs,
        ..HttpConfig::default()
    };
    let unsubscribe = config.session_key.unsubscribe_key();
    let mut app = flare_http::app(AppState::new(service.clone(), config));
    if let Some(dir) = &args.static_dir {
        app = app.nest_service("/static", tower_http::services::ServeDir::new(dir));
    }

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using it? Try --bind", args.bind))?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.unwrap_or_else(|| format!("http://{addr}"));
    let channels = crate::channels::from_env(&Env::process(), args.outbox.as_deref())?;
    eprintln!("{}", crate::channels::describe(&channels));
    // Reports need mail; without it there is nothing for the reporter to do.
    let (stop_reporter, reporter_stopped) = tokio::sync::oneshot::channel::<()>();
    let reporter = match &channels.mailer {
        Some(mailer) => {
            let settings = ReportSettings::from_env(&Env::process(), &public_url)?;
            let reporter = Reporter::new(service.clone(), mailer.clone(), settings);
            let schedule = ReportSchedule::new(reporter, service.clock().clone(), args.digest_hour);
            Some(tokio::spawn(schedule.run(Duration::from_secs(args.report_poll_secs.max(1)), async {
                let _ = reporter_stopped.await;
            })))
        }
        None => None,
    };
    let mail_for_poller = channels.mailer.clone();
    let dispatcher = Dispatcher::new(service.clone(), channels, Links::new(&public_url, unsubscribe));
    let worker = Worker::new(store.clone(), dispatcher, service.clock().clone());
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(Duration::from_secs(args.worker_poll_secs.max(1)), async {
        let _ = worker_stopped.await;
    }));
    let poll_config = flare_poll::PollConfig::from_env(&Env::process())?;
    let (stop_poller, poller_stopped) = tokio::sync::oneshot::channel::<()>();
    let poller = if poll_config.is_empty() {
        None
    } else {
        eprintln!(
            "The poller runs {} sheets and {} probes every {} s.",
            poll_config.sheets.len(),
            poll_config.probes.len(),
            args.poll_interval_secs.max(1)
        );
        let bad_rows_to = poll_config.bad_rows_to.clone();
        let mut poller = flare_poll::Poller::new(service.clone(), poll_config)?;
        match (bad_rows_to, &mail_for_poller) {
            (Some(to), Some(mailer)) => {
                eprintln!("Bad sheet rows are mailed to {to}.");
                poller = poller.with_bad_row_mail(flare_poll::BadRowMail { mailer: mailer.clone(), to });
            }
            (Some(to), None) => {
                eprintln!("Bad sheet rows would be mailed to {to}, but no mail is set up (FLARE_SMTP_HOST).")
            }
            (None, _) => {}
        }
        Some(tokio::spawn(run_poller(poller, Duration::from_secs(args.poll_interval_secs.max(1)), poller_stopped)))
    };
    if fresh {
        eprintln!("Created a new Flare database at {}.", db.display());
    }
    if store.list_api_keys().await?.is_empty() {
        eprintln!(
            "To sign in to the form, create a user:   flare --db {db} users add NAME   (asks for a password)\n\
             For monitoring tools, create an API key: flare --db {db} keys create --name monitoring --scope incidents:write",
            db = db.display()
        );
    }
    if args.public_reads {
        eprintln!(
            "Reads are public: anyone may open the status page, its JSON and feed, which then leave out names, \
             addresses and ticket links; signed-in users and API keys see everything (--public-reads false \
             makes every read need a sign-in or a key)."
        );
    }
    eprintln!("Flare is serving on http://{addr}/ (the status page; the form is at /form, the JSON at /api/incidents)");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("the server failed")?;
    let _ = stop_worker.send(());
    let _ = stop_poller.send(());
    let _ = worker.await;
    if let Some(poller) = poller {
        let _ = poller.await;
    }
    let _ = stop_reporter.send(());
    if let Some(reporter) = reporter {
        let _ = reporter.await;
    }
    info!("stopped");
    Ok(())
}

/// Runs the poller every `interval` until told to stop. A run in progress finishes first; one that overruns
/// its interval delays the next rather than overlapping it.
async fn run_poller(poller: flare_poll::Poller, interval: Duration, stop: tokio::sync::oneshot::Receiver<()>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticks.tick() => {
                poller.run_once().await;
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so that in-flight requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
