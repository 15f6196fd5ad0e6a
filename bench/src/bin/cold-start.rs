//! Cold starts of every Flare function, against the floor and the peer, in one run (`scripts/bench-coldstart`).
//!
//! Each function's release binary is started by a local Lambda Runtime API ([`flare_bench::runtime_api`]) with a
//! Lambda environment pointing at DynamoDB Local and moto, handed one event and killed once it has answered; so
//! are the floor (`lambda-floor`, a hello-world `lambda_runtime` binary) and the peer (Python `awslambdaric` with
//! a boto3 handler making the dashboard's read). The cases take turns, round after round, so that machine noise
//! falls on all of them alike; one round before the measured ones warms DynamoDB Local and the page cache.
//!
//! It prints one table: init (spawn to the first `next`), first response (event to response), init plus first
//! response and peak RSS, median and p90, with each function's ratios against the floor and the peer and its
//! verdict on the issue's targets ([`flare_bench::coldstart`]). It exits non-zero when a target is missed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use flare_aws::{DynamoStore, local_client, schema};
use flare_bench::coldstart::{
    MAX_INIT_OVER_FLOOR, MAX_PEAK_RSS_MB, MIN_PEER_OVER_FUNCTION, Spread, Summary, Verdict, warm_up_ms,
};
use flare_bench::runtime_api::{Launch, Outcome, RuntimeApi, Sample};
use flare_core::text::{PersonName, SystemName};
use flare_core::{AccessStore, ApiKey, CatalogStore, Scope, System, SystemId};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// DynamoDB Local's endpoint.
    #[arg(long, env = "FLARE_TEST_DYNAMODB_ENDPOINT")]
    dynamodb: String,
    /// moto's endpoint (SES, SNS and Secrets Manager).
    #[arg(long, env = "FLARE_TEST_MOTO_ENDPOINT")]
    moto: String,
    /// The directory holding the release binaries of the functions and of `lambda-floor`.
    #[arg(long)]
    bins: PathBuf,
    /// The Python of the peer's virtual environment (with awslambdaric and boto3).
    #[arg(long)]
    peer_python: PathBuf,
    /// The directory of the peer's handler module, `coldstart_peer.py`.
    #[arg(long)]
    peer_dir: PathBuf,
    /// The sample events (the repository's `events/`).
    #[arg(long)]
    events: PathBuf,
    /// Where each case's output goes, one log file per case.
    #[arg(long)]
    logs: PathBuf,
    /// Measured runs per case.
    #[arg(long, default_value_t = 30)]
    runs: usize,
}

/// The dashboard and intake share this session key; only the benchmark's processes ever see it.
const SESSION_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v";
const TABLE: &str = "flare-coldstart";
/// A process that has not answered by then is reported as failed.
const LIMIT: Duration = Duration::from_secs(30);

/// What a case must answer for its run to count.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An API Gateway proxy answer with this status code.
    Status(u16),
    /// Any answer that is not an error.
    Answer,
}

#[derive(Debug)]
struct Case {
    name: String,
    role: Role,
    launch: Launch,
    event: Event,
    expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Floor,
    Peer,
    Function,
}

/// The event of one run: the same each time, or a write made unique per run.
#[derive(Debug)]
enum Event {
    Fixed(Vec<u8>),
    /// An API Gateway event whose `Idempotency-Key` is made unique per run, so every run is a new write.
    UniqueWrite(Value),
}

impl Event {
    fn for_run(&self, run: usize) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::Fixed(bytes) => Ok(bytes.clone()),
            Self::UniqueWrite(template) => {
                let mut event = template.clone();
                event["headers"]["idempotency-key"] = json!(format!("coldstart-{}-{run}", std::process::id()));
                Ok(serde_json::to_vec(&event)?)
            }
        }
    }
}

fn read_event(dir: &Path, name: &str) -> anyhow::Result<Value> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// An API Gateway HTTP API event for `GET path`, from the list event's shape.
fn get_event(list: &Value, path: &str) -> Value {
    let mut event = list.clone();
    event["routeKey"] = json!(format!("GET {path}"));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["requestContext"]["routeKey"] = json!(format!("GET {path}"));
    event["requestContext"]["http"]["path"] = json!(path);
    event
}

/// The table, the system the write event names, and an API key that may write; returns the key's token.
async fn prepare(dynamodb: &str) -> anyhow::Result<String> {
    let client = local_client(dynamodb);
    schema::create_table(&client, TABLE).await.context("creating the table in DynamoDB Local")?;
    let store = DynamoStore::new(client, TABLE);
    let vpn = System {
        id: SystemId::parse("system", "vpn")?,
        name: SystemName::parse("name", "Remote access VPN")?,
        owner: None,
        owner_email: None,
    };
    store.put_system(&vpn).await?;
    let now = time::OffsetDateTime::now_utc();
    let (key, token) = ApiKey::generate(PersonName::parse("name", "monitoring")?, vec![Scope::IncidentsWrite], now);
    store.create_api_key(&key).await?;
    Ok(token)
}

fn cases(args: &Args, token: &str) -> anyhow::Result<Vec<Case>> {
    let env = |function: &str, extra: &[(&str, &str)]| -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = [
            ("AWS_LAMBDA_FUNCTION_NAME", function),
            ("_HANDLER", "bootstrap"),
            ("AWS_ENDPOINT_URL_DYNAMODB", args.dynamodb.as_str()),
            ("AWS_ENDPOINT_URL_SES", args.moto.as_str()),
            ("AWS_ENDPOINT_URL_SNS", args.moto.as_str()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", args.moto.as_str()),
            ("FLARE_TABLE", TABLE),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.retain(|_, v| !v.is_empty());
        env
    };
    let http = [("FLARE_SESSION_KEY", SESSION_KEY), ("FLARE_PUBLIC_READS", "true")];
    let mail = [
        ("FLARE_SESSION_KEY", SESSION_KEY),
        ("FLARE_SENDER", "flare@example.org"),
        ("FLARE_SES_MAX_SEND_RATE", "14"),
        ("FLARE_PUBLIC_URL", "https://flare.example.org"),
    ];
    let bin = |name: &str, env: BTreeMap<String, String>| Launch {
        program: args.bins.join(name),
        args: vec![],
        cwd: None,
        env,
        log: args.logs.join(format!("{name}.log")),
    };
    let list = read_event(&args.events, "apigw-list-incidents.json")?;
    let mut open = read_event(&args.events, "apigw-open-incident.json")?;
    open["headers"]["authorization"] = json!(format!("Bearer {token}"));
    let bytes = |v: &Value| serde_json::to_vec(v).map(Event::Fixed);

    let mut peer_env = env("coldstart-peer", &[("_HANDLER", "coldstart_peer.handler")]);
    peer_env.insert("PYTHONPATH".into(), args.peer_dir.display().to_string());
    peer_env.insert("LAMBDA_TASK_ROOT".into(), args.peer_dir.display().to_string());
    Ok(vec![
        Case {
            name: "hello-world `lambda_runtime` (the floor)".into(),
            role: Role::Floor,
            launch: bin("lambda-floor", env("lambda-floor", &[])),
            event: Event::Fixed(br#"{"hello": "world"}"#.to_vec()),
            expect: Expect::Answer,
        },
        Case {
            name: "`flare-dashboard`, `GET /healthz`".into(),
            role: Role::Function,
            launch: bin("flare-dashboard", env("flare-dashboard", &http)),
            event: bytes(&get_event(&list, "/healthz"))?,
            expect: Expect::Status(200),
        },
        Case {
            name: "`flare-dashboard`, `GET /api/incidents`".into(),
            role: Role::Function,
            launch: bin("flare-dashboard", env("flare-dashboard", &http)),
            event: bytes(&list)?,
            expect: Expect::Status(200),
        },
        Case {
            name: "`flare-intake`, `POST /api/incidents` with a key".into(),
            role: Role::Function,
            launch: bin("flare-intake", env("flare-intake", &http)),
            event: Event::UniqueWrite(open),
            expect: Expect::Status(201),
        },
        Case {
            name: "`flare-dispatcher`, empty stream batch".into(),
            role: Role::Function,
            launch: bin("flare-dispatcher", env("flare-dispatcher", &mail)),
            event: Event::Fixed(br#"{"Records": []}"#.to_vec()),
            expect: Expect::Answer,
        },
        Case {
            name: "`flare-poller`, scheduled event".into(),
            role: Role::Function,
            launch: bin("flare-poller", env("flare-poller", &[])),
            event: bytes(&read_event(&args.events, "eventbridge-schedule.json")?)?,
            expect: Expect::Answer,
        },
        Case {
            name: "`flare-reporter`, hourly reports event".into(),
            role: Role::Function,
            launch: bin("flare-reporter", env("flare-reporter", &mail)),
            event: bytes(&read_event(&args.events, "reporter-reports.json")?)?,
            expect: Expect::Answer,
        },
        Case {
            name: "Python `awslambdaric` + boto3, the same read (the peer)".into(),
            role: Role::Peer,
            launch: Launch {
                program: args.peer_python.clone(),
                args: vec!["-m".into(), "awslambdaric".into(), "coldstart_peer.handler".into()],
                cwd: Some(args.peer_dir.clone()),
                env: peer_env,
                log: args.logs.join("coldstart-peer.log"),
            },
            event: bytes(&list)?,
            expect: Expect::Status(200),
        },
    ])
}

/// How long a case's log file is before a run, so that the run's own lines can be read after it.
fn log_length(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// What a run appended to its case's log file.
fn appended(log: &Path, from: u64) -> anyhow::Result<String> {
    let bytes = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[from..]).into_owned())
}

/// Fails the run unless the case answered as expected.
fn check(case: &Case, sample: &Sample) -> anyhow::Result<()> {
    let body = match &sample.outcome {
        Outcome::Response(body) => body,
        Outcome::Error(body) => {
            bail!("{} answered with an error: {}", case.name, String::from_utf8_lossy(body))
        }
    };
    if let Expect::Status(want) = case.expect {
        let answer: Value = serde_json::from_slice(body)
            .with_context(|| format!("{}: the answer is not JSON: {}", case.name, String::from_utf8_lossy(body)))?;
        if answer["statusCode"] != want {
            bail!("{} answered {} (expected {want}): {answer}", case.name, answer["statusCode"]);
        }
    }
    Ok(())
}

/// `median (p90)`, to a tenth below 10 and whole above.
fn cell(spread: flare_bench::coldstart::Spread) -> String {
    let digits = if spread.median < 10.0 { 1 } else { 0 };
    format!("{:.digits$} ({:.digits$})", spread.median, spread.p90)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.logs)?;
    let token = prepare(&args.dynamodb).await?;
    let cases = cases(&args, &token)?;
    let mut api = RuntimeApi::start().await?;
    println!(
        "Runtime API at {}; {} cases, 1 warm-up round and {} measured rounds",
        api.address(),
        cases.len(),
        args.runs
    );

    let mut samples: Vec<Vec<Sample>> = cases.iter().map(|_| Vec::with_capacity(args.runs)).collect();
    let mut warm_ups: Vec<Vec<f64>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..=args.runs {
        for (i, case) in cases.iter().enumerate() {
            let logged = log_length(&case.launch.log);
            let sample = api.run(&case.launch, &case.event.for_run(round)?, LIMIT).await?;
            check(case, &sample)?;
            if round > 0 {
                samples[i].push(sample);
                if let Some(ms) = warm_up_ms(&appended(&case.launch.log, logged)?) {
                    warm_ups[i].push(ms);
                }
            }
        }
        if round % 10 == 0 {
            println!("round {round} of {} done", args.runs);
        }
    }

    let summaries: Vec<Summary> =
        samples.iter().map(|s| Summary::of(s).context("a case has no samples")).collect::<Result<_, _>>()?;
    let find = |role: Role| {
        cases.iter().position(|c| c.role == role).map(|i| summaries[i]).context("the floor or the peer is missing")
    };
    let (floor, peer) = (find(Role::Floor)?, find(Role::Peer)?);

    println!();
    println!(
        "| binary | init ms | init ÷ floor | of which warm-up wait ms | init beyond the wait ÷ floor | first response ms | \
         init + first ms | peer ÷ this | peak RSS MB | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut failed = 0;
    for ((case, summary), warm_ups) in cases.iter().zip(&summaries).zip(&warm_ups) {
        // The warm-up read is init's one wait on the network, by design (see bench/README.md); the rest of init
        // runs while it waits. Shown apart, so that what init takes beyond that round trip is set against the
        // floor's.
        let (warm_up, without) = match Spread::of(warm_ups) {
            Some(wait) => {
                (cell(wait), format!("{:.2}×", (summary.init.median - wait.median).max(0.0) / floor.init.median))
            }
            None => ("—".to_string(), "—".to_string()),
        };
        let (ratio, peer_ratio, verdict) = match case.role {
            Role::Floor => ("1".to_string(), format!("{:.0}×", peer.total.median / summary.total.median), "floor"),
            Role::Peer => (format!("{:.0}×", summary.init.median / floor.init.median), "1".to_string(), "peer"),
            Role::Function => {
                let v = Verdict::of(summary, &floor, &peer);
                let mut misses = Vec::new();
                if !v.init_ok {
                    misses.push("init");
                }
                if !v.rss_ok {
                    misses.push("RSS");
                }
                if !v.peer_ok {
                    misses.push("peer");
                }
                if !misses.is_empty() {
                    failed += 1;
                    eprintln!("{}: FAIL on {}", case.name, misses.join(", "));
                }
                let verdict = if v.passes() { "PASS" } else { "FAIL" };
                (format!("{:.2}×", v.init_over_floor), format!("{:.0}×", v.peer_over_function), verdict)
            }
        };
        println!(
            "| {} | {} | {ratio} | {warm_up} | {without} | {} | {} | {peer_ratio} | {} | {verdict} |",
            case.name,
            cell(summary.init),
            cell(summary.first),
            cell(summary.total),
            cell(summary.rss),
        );
    }
    println!();
    println!(
        "Medians, p90 in brackets, {} runs each. Targets: init ≤ {MAX_INIT_OVER_FLOOR}× the floor's, peak RSS ≤ \
         {MAX_PEAK_RSS_MB} MB, the peer's init + first response ≥ {MIN_PEER_OVER_FUNCTION}× the function's.",
        args.runs
    );
    if failed > 0 {
        bail!("{failed} function case(s) missed a target");
    }
    println!("every function meets every target");
    Ok(())
}
