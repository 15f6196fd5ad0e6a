//! A local Lambda Runtime API for the cold-start benchmark: it starts a function's binary as Lambda would (its
//! environment pointing at this server), hands it one event, and times the start.
//!
//! It owns the three instants of a cold start (the spawn, the function's first `GET .../invocation/next`, its
//! response) and the process's peak resident memory, read from `/proc/<pid>/status` (`VmHWM`) once the
//! function has answered and waits for its next event. It does not decide what is fast enough: that is the
//! `cold-start` binary's table.
//!
//! One invocation at a time: each run installs its event, and any `next` after the first waits until the process
//! is killed, as a frozen Lambda sandbox would.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

const API: &str = "/2018-06-01/runtime";

/// How a run ended, as the function told the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST .../invocation/{id}/response`, with its body.
    Response(Bytes),
    /// `POST .../invocation/{id}/error` or `.../init/error`, with its body.
    Error(Bytes),
}

/// One cold start, measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From just before the spawn to the first `GET .../invocation/next`.
    pub init: Duration,
    /// From the event handed out to the response posted.
    pub first_response: Duration,
    /// `VmHWM` after the response, in kB.
    pub peak_rss_kb: u64,
    pub outcome: Outcome,
}

/// What one function is started with.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// On top of the Lambda variables the emulator sets itself.
    pub env: BTreeMap<String, String>,
    /// Where the process's stdout and stderr go (appended).
    pub log: PathBuf,
}

/// What the function's current run reports back to [`RuntimeApi::run`].
#[derive(Debug, Default)]
struct Pending {
    event: Option<(String, Bytes)>,
    next_at: Option<oneshot::Sender<Instant>>,
    done: Option<oneshot::Sender<(Instant, Outcome)>>,
}

#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mutex<Pending>>);

impl Shared {
    /// A poisoned lock only means an earlier handler panicked; the state is still one run's channels.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The emulator: a loopback HTTP server speaking the Runtime API's four calls.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Shared,
    next_id: u64,
}

impl RuntimeApi {
    /// Binds a free loopback port and serves in the background.
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Shared::default();
        let app = Router::new()
            .route(&format!("{API}/invocation/next"), get(next))
            .route(&format!("{API}/invocation/{{id}}/response"), post(response))
            .route(&format!("{API}/invocation/{{id}}/error"), post(error))
            .route(&format!("{API}/init/error"), post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the Runtime API")?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the Runtime API stopped: {e}");
            }
        });
        Ok(Self { addr, shared, next_id: 0 })
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` takes it.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Starts `launch`, hands it `event`, and measures until it answers (or `limit` passes); then kills it.
    pub async fn run(&mut self, launch: &Launch, event: &[u8], limit: Duration) -> anyhow::Result<Sample> {
        self.next_id += 1;
        let request_id = format!("bench-{:08}", self.next_id);
        let (next_tx, mut next_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        *self.shared.lock() = Pending {
            event: Some((request_id, Bytes::copy_from_slice(event))),
            next_at: Some(next_tx),
            done: Some(done_tx),
        };

        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)
            .with_context(|| format!("opening {}", launch.log.display()))?;
        // std's process, not tokio's: the benchmark's wait is on the Runtime API's channels, never on the child.
        let mut command = std::process::Command::new(&launch.program);
        command
            .args(&launch.args)
            .env_clear()
            .envs(lambda_env(&self.address()))
            .envs(&launch.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(cwd) = &launch.cwd {
            command.current_dir(cwd);
        }

        let spawned_at = Instant::now();
        let mut child = command.spawn().with_context(|| format!("starting {}", launch.program.display()))?;
        let pid = child.id();
        // Only the end is awaited: a function that fails its init posts its error without ever asking for an event.
        let measured = tokio::time::timeout(limit, async {
            let (done_at, outcome) = done_rx.await.context("the Runtime API dropped the run")?;
            anyhow::Ok((next_rx.try_recv().ok(), done_at, outcome))
        })
        .await;
        // Read before the kill: the process is idle in its second `next`, its peak already reached.
        let peak_rss_kb = peak_rss_kb(pid);
        let _ = child.kill();
        let status = child.wait();

        let (next_at, done_at, outcome) = match measured {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(e),
            Err(_) => bail!(
                "{} gave no answer within {limit:?} (exit: {status:?}); see {}",
                launch.program.display(),
                launch.log.display()
            ),
        };
        let peak_rss_kb = match (&outcome, peak_rss_kb) {
            // A function that fails its init exits, as it should; its error is what the caller needs to see.
            (Outcome::Error(_), Err(_)) => 0,
            (_, rss) => rss.with_context(|| format!("reading the peak RSS of process {pid}"))?,
        };
        // An init error arrives without a `next`: count all of it as init.
        let next_at = next_at.unwrap_or(done_at);
        Ok(Sample {
            init: next_at.duration_since(spawned_at),
            first_response: done_at.duration_since(next_at),
            peak_rss_kb,
            outcome,
        })
    }
}

/// The variables Lambda sets for every function (what `provided.al2023` and the Python runtime read), with
/// 128 MB of memory, the size the issue's figures are for.
fn lambda_env(api: &str) -> BTreeMap<String, String> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]bench"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_SESSION_TOKEN", "local"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `VmHWM` of `pid`, in kB.
fn peak_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line")
}

async fn next(State(shared): State<Shared>) -> Response {
    let arrived = Instant::now();
    let event = {
        let mut pending = shared.lock();
        if let Some(tx) = pending.next_at.take() {
            let _ = tx.send(arrived);
        }
        pending.event.take()
    };
    let Some((request_id, body)) = event else {
        // The invocation is answered: the sandbox would be frozen here. Wait to be killed.
        return std::future::pending().await;
    };
    let mut headers = HeaderMap::new();
    let deadline = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 + 30_000;
    for (name, value) in [
        ("lambda-runtime-aws-request-id", request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench".to_string()),
        ("lambda-runtime-trace-id", format!("Root=1-00000000-{request_id:0>24};Sampled=0")),
        ("content-type", "application/json".to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, body).into_response()
}

fn finish(shared: &Shared, outcome: Outcome) -> StatusCode {
    let at = Instant::now();
    if let Some(tx) = shared.lock().done.take() {
        let _ = tx.send((at, outcome));
    }
    StatusCode::ACCEPTED
}

async fn response(State(shared): State<Shared>, UrlPath(_id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&shared, Outcome::Response(body))
}

async fn error(State(shared): State<Shared>, UrlPath(_id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&shared, Outcome::Error(body))
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    finish(&shared, Outcome::Error(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell "function" speaking the Runtime API through curl, with its output in a fresh log file.
    fn shell_function(name: &str, script: &str) -> Launch {
        let log = std::env::temp_dir().join(format!("flare-runtime-api-{name}-{}.log", std::process::id()));
        Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), format!("api=\"http://$AWS_LAMBDA_RUNTIME_API{API}\"; {script}")],
            cwd: None,
            env: BTreeMap::new(),
            log,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_function_that_echoes_its_event_is_timed_and_its_answer_kept() {
        let mut api = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e:?}"));
        let echo = shell_function(
            "echo",
            r#"curl -sf "$api/invocation/next" | curl -sf -X POST --data-binary @- "$api/invocation/x/response"; curl -sf "$api/invocation/next""#,
        );

        let sample =
            api.run(&echo, br#"{"hello":"world"}"#, Duration::from_secs(20)).await.unwrap_or_else(|e| panic!("{e:?}"));

        assert_eq!(sample.outcome, Outcome::Response(Bytes::from_static(br#"{"hello":"world"}"#)));
        assert!(sample.init > Duration::ZERO && sample.first_response > Duration::ZERO, "{sample:?}");
        assert!(sample.peak_rss_kb > 0, "{sample:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_function_that_fails_its_init_is_reported_with_its_error() {
        let mut api = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e:?}"));
        let failing = shell_function(
            "init-error",
            r#"curl -sf -X POST --data-binary '{"errorType":"Config"}' "$api/init/error""#,
        );

        let sample = api.run(&failing, b"{}", Duration::from_secs(20)).await.unwrap_or_else(|e| panic!("{e:?}"));

        assert_eq!(sample.outcome, Outcome::Error(Bytes::from_static(br#"{"errorType":"Config"}"#)));
    }

    #[test]
    fn the_peak_rss_is_read_from_the_process_status() {
        let kb = peak_rss_kb(std::process::id()).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(kb > 0, "{kb}");
    }
}
