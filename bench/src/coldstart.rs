//! The cold-start benchmark's verdicts: per case, the median and 90th percentile of its samples, its ratios
//! against the floor (a hello-world `lambda_runtime` binary) and the peer (Python `awslambdaric` with boto3), all
//! measured in the same run, and whether it meets the targets. Measuring is [`crate::runtime_api`]'s.

use std::time::Duration;

use crate::runtime_api::Sample;

/// A function's init may take at most this many times the floor's.
pub const MAX_INIT_OVER_FLOOR: f64 = 2.0;
/// A function's peak resident memory, at most.
pub const MAX_PEAK_RSS_MB: f64 = 16.0;
/// The peer's init plus first response over a function's, at least.
pub const MIN_PEER_OVER_FUNCTION: f64 = 30.0;

/// The line a function logs once its warm-up read has answered (`flare_aws::lambda::warm_up`), with the wait in
/// milliseconds as `ms=…`.
pub const WARM_UP_LINE: &str = "DynamoDB connection warmed";

/// The warm-up's wait in milliseconds, from the log a run appended; `None` when the run made no warm-up.
pub fn warm_up_ms(log: &str) -> Option<f64> {
    let line = log.lines().find(|line| line.contains(WARM_UP_LINE))?;
    let value = line.split_whitespace().find_map(|field| field.strip_prefix("ms="))?;
    value.parse().ok()
}

/// The median and the 90th percentile (nearest rank) of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
}

impl Spread {
    /// `None` when there are no values.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        let rank = (0.9 * n as f64).ceil() as usize;
        Some(Self { median, p90: sorted[rank.clamp(1, n) - 1] })
    }
}

/// One case's samples, summarised; times in milliseconds, memory in MB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub init: Spread,
    pub first: Spread,
    /// Init plus first response, per run.
    pub total: Spread,
    pub rss: Spread,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Summary {
    pub fn of(samples: &[Sample]) -> Option<Self> {
        let pick = |f: &dyn Fn(&Sample) -> f64| Spread::of(&samples.iter().map(f).collect::<Vec<_>>());
        Some(Self {
            init: pick(&|s| ms(s.init))?,
            first: pick(&|s| ms(s.first_response))?,
            total: pick(&|s| ms(s.init + s.first_response))?,
            rss: pick(&|s| s.peak_rss_kb as f64 / 1024.0)?,
        })
    }
}

/// A function's ratios against the floor and the peer, by median, and the targets it meets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub init_over_floor: f64,
    pub peer_over_function: f64,
    pub init_ok: bool,
    pub rss_ok: bool,
    pub peer_ok: bool,
}

impl Verdict {
    pub fn of(function: &Summary, floor: &Summary, peer: &Summary) -> Self {
        let init_over_floor = function.init.median / floor.init.median;
        let peer_over_function = peer.total.median / function.total.median;
        Self {
            init_over_floor,
            peer_over_function,
            init_ok: init_over_floor <= MAX_INIT_OVER_FLOOR,
            rss_ok: function.rss.median <= MAX_PEAK_RSS_MB,
            peer_ok: peer_over_function >= MIN_PEER_OVER_FUNCTION,
        }
    }

    pub fn passes(&self) -> bool {
        self.init_ok && self.rss_ok && self.peer_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(values: &[f64]) -> Spread {
        Spread::of(values).unwrap_or_else(|| panic!("no values"))
    }

    #[test]
    fn the_warm_up_wait_is_read_from_the_runs_log_line_and_absent_without_one() {
        let log = " INFO dispatcher ready\n INFO DynamoDB connection warmed ms=4.25\n";
        assert_eq!(warm_up_ms(log), Some(4.25));
        assert_eq!(warm_up_ms(" INFO reporter ready\n"), None);
    }

    fn summary(init: f64, first: f64, rss: f64) -> Summary {
        let one = |v: f64| Spread { median: v, p90: v };
        Summary { init: one(init), first: one(first), total: one(init + first), rss: one(rss) }
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(spread(&[4.0, 1.0, 3.0, 2.0]).median, 2.5);
    }

    #[test]
    fn the_p90_of_thirty_values_is_the_twenty_seventh_smallest() {
        let values: Vec<f64> = (1..=30).rev().map(f64::from).collect();
        assert_eq!(spread(&values).p90, 27.0);
    }

    #[test]
    fn no_samples_have_no_spread() {
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn a_function_at_twice_the_floors_init_passes_and_just_above_fails() {
        let (floor, peer) = (summary(2.0, 0.2, 3.0), summary(900.0, 100.0, 60.0));
        assert!(Verdict::of(&summary(4.0, 1.0, 10.0), &floor, &peer).init_ok);
        assert!(!Verdict::of(&summary(4.1, 1.0, 10.0), &floor, &peer).init_ok);
    }

    #[test]
    fn a_function_over_16_mb_fails_on_memory_alone() {
        let verdict = Verdict::of(&summary(2.0, 1.0, 16.5), &summary(2.0, 0.2, 3.0), &summary(900.0, 100.0, 60.0));
        assert!(verdict.init_ok && verdict.peer_ok && !verdict.rss_ok && !verdict.passes());
    }

    #[test]
    fn the_peer_ratio_compares_init_plus_first_response() {
        let verdict = Verdict::of(&summary(20.0, 13.0, 10.0), &summary(10.0, 0.2, 3.0), &summary(900.0, 90.0, 60.0));
        assert_eq!(verdict.peer_over_function, 30.0);
        assert!(verdict.peer_ok);
    }
}
