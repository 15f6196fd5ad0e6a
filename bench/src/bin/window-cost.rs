//! `window-cost`: does a one-week dashboard window cost the same read capacity in a small table and a large
//! one? Fills two fresh tables in DynamoDB Local (the same planted incidents around a probe week, plus 1,000
//! or 100,000 background incidents from the two years before it), reads the probe week many times in each,
//! and compares. Exits non-zero when the answer is wrong or the cost ratio misses the target.
//!
//! Run it through `scripts/bench-window`, which starts DynamoDB Local.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use flare_aws::{DynamoStore, local_client, schema};
use flare_bench::fixtures::{self, PROBE_FROM, PROBE_TO};
use flare_bench::load::bulk_load;
use flare_bench::measure::{self, Summary};
use flare_core::timefmt::rfc3339;
use flare_core::{Incident, Window, WindowQuery};

/// The read-cost target: RCU at the large size over RCU at the small size.
const TARGET_RATIO: f64 = 1.2;
const PROGRESS_EVERY: usize = 10_000;

#[derive(Debug, Parser)]
#[command(about = "Compare the read cost of a one-week window at two table sizes, on DynamoDB Local")]
struct Args {
    /// DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000.
    #[arg(long, env = "FLARE_TEST_DYNAMODB_ENDPOINT")]
    endpoint: String,
    /// Background incidents in the small table.
    #[arg(long, default_value_t = 1_000)]
    small: u64,
    /// Background incidents in the large table.
    #[arg(long, default_value_t = 100_000)]
    large: u64,
    /// Timed window queries per table.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// BatchWriteItem requests in flight while filling.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 20_261_122)]
    seed: u64,
}

/// Fills one table and measures the probe week in it.
async fn measure_size(args: &Args, size: u64) -> anyhow::Result<Summary> {
    let client = local_client(&args.endpoint);
    let table = format!("flare-bench-{size}-{}", std::process::id());
    schema::create_table(&client, &table).await.with_context(|| format!("create table {table}"))?;
    // The tables are left in place: DeleteTable of a large table keeps DynamoDB Local busy for minutes, and
    // an in-memory DynamoDB Local drops everything when it stops.
    fill_and_probe(args, &DynamoStore::new(client, table), size).await
}

async fn fill_and_probe(args: &Args, store: &DynamoStore, size: u64) -> anyhow::Result<Summary> {
    let planted = fixtures::plant(store).await?;
    let started = Instant::now();
    let mut next_report = PROGRESS_EVERY;
    let written =
        bulk_load(store.client(), store.table(), fixtures::background(size, args.seed), args.concurrency, |n| {
            if n >= next_report {
                println!(
                    "  {size:>7}: {n:>7} background incidents written ({:.0}/s)",
                    n as f64 / started.elapsed().as_secs_f64()
                );
                next_report += PROGRESS_EVERY;
            }
        })
        .await?;
    println!(
        "  {size:>7}: filled with {} planted + {written} background incidents in {:.1}s",
        planted.len(),
        started.elapsed().as_secs_f64()
    );

    let query = WindowQuery::new(Window::new(PROBE_FROM, PROBE_TO)?);
    let mut expected: Vec<&Incident> = planted.iter().filter(|i| query.matches(i)).collect();
    expected.sort_by_key(|i| std::cmp::Reverse((i.started_at, i.ticket)));
    let expected: Vec<_> = expected.into_iter().map(|i| i.ticket).collect();

    // Warm up the JVM and connection pool, then time.
    for _ in 0..3 {
        measure::run(store, &query).await?;
    }
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let run = measure::run(store, &query).await?;
        let got: Vec<_> = run.incidents.iter().map(|i| i.ticket).collect();
        if got != expected {
            bail!("the window query answered {got:?}, expected {expected:?}");
        }
        runs.push(run);
    }
    Summary::of(&runs).context("no runs")
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    println!(
        "window-cost: probe week [{}, {}), {} planted incidents, {} runs per size",
        rfc3339(PROBE_FROM),
        rfc3339(PROBE_TO),
        fixtures::planted().len(),
        args.runs
    );
    let small = measure_size(&args, args.small).await?;
    let large = measure_size(&args, args.large).await?;

    println!();
    println!(
        "{:>10} {:>9} {:>11} {:>9} {:>9} {:>10} {:>10}",
        "incidents", "returned", "RCU/query", "RCU min", "RCU max", "median ms", "p95 ms"
    );
    for (size, s) in [(args.small, small), (args.large, large)] {
        println!(
            "{size:>10} {:>9} {:>11.2} {:>9.2} {:>9.2} {:>10.2} {:>10.2}",
            s.returned,
            s.rcu_mean,
            s.rcu_min,
            s.rcu_max,
            ms(s.median),
            ms(s.p95)
        );
    }
    let rcu_ratio = large.rcu_mean / small.rcu_mean;
    let latency_ratio = ms(large.median) / ms(small.median);
    let pass = rcu_ratio <= TARGET_RATIO;
    println!();
    println!("RCU ratio {}/{}: {rcu_ratio:.3} (target <= {TARGET_RATIO})", args.large, args.small);
    println!("median latency ratio {}/{}: {latency_ratio:.3}", args.large, args.small);
    println!("{}", if pass { "PASS" } else { "FAIL" });
    Ok(if pass { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
