//! Measuring the window query: every page of one window, its read capacity (as DynamoDB reports it) and its
//! wall-clock latency, repeated, then summarised.

use std::time::{Duration, Instant};

use flare_aws::DynamoStore;
use flare_core::{Incident, WindowQuery};

/// One run of the window query, all pages.
#[derive(Debug, Clone)]
pub struct Run {
    pub incidents: Vec<Incident>,
    pub rcu: f64,
    pub latency: Duration,
}

/// Reads every page of the query's window.
pub async fn run(store: &DynamoStore, query: &WindowQuery) -> anyhow::Result<Run> {
    let mut query = query.clone();
    let (mut incidents, mut rcu) = (Vec::new(), 0.0);
    let started = Instant::now();
    loop {
        let (page, cost) = store.list_window_with_cost(&query).await?;
        incidents.extend(page.items);
        rcu += cost;
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(Run { incidents, rcu, latency: started.elapsed() })
}

/// Cost and latency over many runs.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub returned: usize,
    pub rcu_mean: f64,
    pub rcu_min: f64,
    pub rcu_max: f64,
    pub median: Duration,
    pub p95: Duration,
}

impl Summary {
    pub fn of(runs: &[Run]) -> Option<Self> {
        let first = runs.first()?;
        let rcu: Vec<f64> = runs.iter().map(|r| r.rcu).collect();
        let mut latencies: Vec<Duration> = runs.iter().map(|r| r.latency).collect();
        latencies.sort();
        let at = |q: f64| latencies[((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1];
        Some(Self {
            returned: first.incidents.len(),
            rcu_mean: rcu.iter().sum::<f64>() / rcu.len() as f64,
            rcu_min: rcu.iter().copied().fold(f64::INFINITY, f64::min),
            rcu_max: rcu.iter().copied().fold(0.0, f64::max),
            median: at(0.5),
            p95: at(0.95),
        })
    }
}
