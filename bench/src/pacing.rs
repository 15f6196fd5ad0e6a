//! Was the SES send rate kept? Judged from when each bulk call went out (the [probe](crate::probe)), against
//! the pacer the mailer sends with (`flare_core::rate::RateLimiter`). It saves nothing up: a call goes out now
//! or once the calls before it are paid for at the configured rate, whichever is later, so an idle spell earns
//! no burst and the time a call takes overlaps the wait for the next.
//!
//! Seen from the calls, that means: for any two calls i ≤ j, the recipients of the calls from i up to, but not
//! including, j are at most the rate times the time between them. Counting call j too, a stretch of calls may
//! exceed `rate × elapsed` by its last call's batch, whose recipients leave together before they are paid for
//! (the discretisation of 50-recipient calls), and never by more. So the busiest one-second window holds at
//! most the rate plus one batch, and the whole phase averages at most the rate.
//!
//! The pacer books each call at its intended time, but a sender wakes up a little after it, by however long the
//! timer and the scheduler take on a busy machine, and the probe sees the call then. A call seen late followed
//! by one seen on time looks closer to it than it was booked. So the comparisons allow a slack: a fixed
//! [`BASE_SLACK`] for the probe's own reading, plus the worst wake-up lateness measured on the same runtime
//! during the same phase ([`Lateness`]). A pacer that ran ahead of the rate would overrun by a batch, not by
//! the rate times a few milliseconds; the run prints the slack it used.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::probe::Call;

/// The slack allowed per comparison before any measured lateness: the probe reads its clock a moment after the
/// pacer lets a call go.
pub const BASE_SLACK: Duration = Duration::from_millis(2);

/// How late timers fire on this runtime, measured while a phase runs: a task sleeps a millisecond at a time and
/// notes how far past each deadline it woke. Senders wake from the pacer's sleeps the same way.
#[derive(Debug)]
pub struct Lateness {
    worst_micros: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Lateness {
    /// Starts measuring.
    pub fn start() -> Self {
        let (worst_micros, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let (worst, stopped) = (worst_micros.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !stopped.load(Ordering::Relaxed) {
                let deadline = tokio::time::Instant::now() + Duration::from_millis(1);
                tokio::time::sleep_until(deadline).await;
                let late = tokio::time::Instant::now().saturating_duration_since(deadline);
                worst.fetch_max(u64::try_from(late.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
            }
        });
        Self { worst_micros, stop, task }
    }

    /// Stops measuring; the latest any timer fired meanwhile.
    pub async fn stop(self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        Duration::from_micros(self.worst_micros.load(Ordering::Relaxed))
    }
}

/// How one phase's bulk calls were paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub calls: usize,
    pub recipients: usize,
    /// The most recipients in one call: the most a stretch of calls may carry beyond `rate × elapsed`.
    pub batch: usize,
    /// From the first call going out to the last one.
    pub span: Duration,
    /// Recipients of the calls before the last, per second between the first call and the last: at most the
    /// configured rate when it was kept. `None` with fewer than two calls.
    pub paced_rate: Option<f64>,
    /// The most recipients any stretch of calls (first and last included) carried beyond the rate times the
    /// time between its first and last call. At most the stretch's last call's batch when the rate was kept.
    pub worst_excess: f64,
    /// The most any stretch carried beyond that allowance (`rate × elapsed` plus its last call's batch), in
    /// recipients; 0 when the rate was kept.
    pub worst_overrun: f64,
    /// The most recipients whose calls went out within any one second (a half-open window starting at a call):
    /// at most the rate plus one batch when the rate was kept.
    pub busiest_second: usize,
    /// Mean and largest time the service took to answer one call.
    pub mean_latency: Duration,
    pub max_latency: Duration,
    /// The clock slack every comparison allowed: [`BASE_SLACK`] plus the lateness measured in the phase.
    pub slack: Duration,
}

impl Pacing {
    /// Reads the calls of one action (`SendBulkTemplatedEmail`) out of everything the probe noted, allowing
    /// `slack` of clock jitter per comparison.
    pub fn of(calls: &[Call], action: &str, rate: f64, slack: Duration) -> Self {
        let calls: Vec<&Call> = calls.iter().filter(|c| c.action == action).collect();
        let recipients = calls.iter().map(|c| c.items).sum();
        let batch = calls.iter().map(|c| c.items).max().unwrap_or(0);
        let span = match (calls.first(), calls.last()) {
            (Some(first), Some(last)) => last.at.saturating_duration_since(first.at),
            _ => Duration::ZERO,
        };

        // Cumulative recipients before each call, for O(1) stretch sums.
        let mut before = Vec::with_capacity(calls.len() + 1);
        before.push(0usize);
        for call in &calls {
            before.push(before.last().copied().unwrap_or(0) + call.items);
        }
        let mut worst_excess = 0.0f64;
        let mut worst_overrun = 0.0f64;
        for i in 0..calls.len() {
            for j in i..calls.len() {
                let sent = (before[j + 1] - before[i]) as f64;
                let elapsed = calls[j].at.saturating_duration_since(calls[i].at) + slack;
                let excess = sent - rate * elapsed.as_secs_f64();
                worst_excess = worst_excess.max(excess);
                worst_overrun = worst_overrun.max(excess - calls[j].items as f64);
            }
        }

        // Over the span plus the slack, as every other comparison: jitter at either end is not pace.
        let paced_rate = match (calls.last(), calls.len()) {
            (Some(last), 2..) if !span.is_zero() => {
                Some((recipients - last.items) as f64 / (span + slack).as_secs_f64())
            }
            _ => None,
        };

        let mut busiest_second = 0;
        let mut from = 0;
        for (j, call) in calls.iter().enumerate() {
            while call.at.saturating_duration_since(calls[from].at) >= Duration::from_secs(1) {
                from += 1;
            }
            busiest_second = busiest_second.max(before[j + 1] - before[from]);
        }

        let latencies: Vec<Duration> = calls.iter().filter_map(|c| c.latency).collect();
        let mean_latency = if latencies.is_empty() {
            Duration::ZERO
        } else {
            latencies.iter().sum::<Duration>() / latencies.len() as u32
        };
        let max_latency = latencies.iter().copied().max().unwrap_or_default();
        Self {
            calls: calls.len(),
            recipients,
            batch,
            span,
            paced_rate,
            worst_excess,
            worst_overrun,
            busiest_second,
            mean_latency,
            max_latency,
            slack,
        }
    }

    /// The most recipients any one-second window may hold: the rate plus one batch.
    pub fn busiest_allowed(&self, rate: f64) -> f64 {
        rate + self.batch as f64
    }

    /// Whether no stretch of calls exceeded `rate × elapsed` by more than its last call's batch, no one-second
    /// window held more than the rate plus one batch, and the calls before the last averaged at most the rate.
    pub fn kept(&self, rate: f64) -> bool {
        self.worst_overrun <= 0.0
            && self.busiest_second as f64 <= self.busiest_allowed(rate)
            && self.paced_rate.is_none_or(|r| r <= rate * (1.0 + 1e-9))
    }

    /// Whether the slack is small enough for the verdict to mean something: what it lets through must stay
    /// well under one batch, the least a pacer that ran ahead would overrun by.
    pub fn slack_is_telling(&self, rate: f64) -> bool {
        rate * self.slack.as_secs_f64() < self.batch as f64 / 2.0
    }

    /// The time the service took to answer, all calls together.
    pub fn service_time(&self) -> Duration {
        self.mean_latency * u32::try_from(self.calls).unwrap_or(u32::MAX)
    }

    /// The most recipients per second one sender could reach if every call took the mean latency and nothing
    /// else: what the emulator alone allows.
    pub fn service_ceiling(&self) -> Option<f64> {
        let per_call = self.mean_latency.as_secs_f64();
        (per_call > 0.0 && self.calls > 0).then(|| self.recipients as f64 / self.calls as f64 / per_call)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use flare_core::rate::RateLimiter;

    use super::*;

    const BULK: &str = "SendBulkTemplatedEmail";

    /// Calls of the given sizes, each going out `gap` milliseconds after the one before.
    fn sized(calls: &[(u64, usize)]) -> Vec<Call> {
        let start = std::time::Instant::now();
        let mut at = Duration::ZERO;
        calls
            .iter()
            .map(|&(gap, items)| {
                at += Duration::from_millis(gap);
                Call { action: BULK.into(), at: start + at, items, latency: Some(Duration::from_millis(5)) }
            })
            .collect()
    }

    fn calls(gaps_ms: &[u64], items: usize) -> Vec<Call> {
        sized(&gaps_ms.iter().map(|&gap| (gap, items)).collect::<Vec<_>>())
    }

    #[test]
    fn calls_paced_at_the_rate_keep_it() {
        // 100/s: a call of 50 every half second.
        let pacing = Pacing::of(&calls(&[500, 500, 500, 500, 500, 500], 50), BULK, 100.0, BASE_SLACK);
        assert_eq!((pacing.calls, pacing.recipients, pacing.batch), (6, 300, 50));
        assert!(pacing.kept(100.0), "{pacing:?}");
        assert_eq!(pacing.worst_overrun, 0.0);
        assert!(pacing.worst_excess <= 50.0, "{pacing:?}");
        let paced = pacing.paced_rate.unwrap();
        assert!(paced <= 100.0 && 100.0 - paced < 0.1, "{paced}: 250 recipients over 2.5 s and the slack");
        assert_eq!(pacing.busiest_second, 100);
    }

    #[test]
    fn each_call_sent_the_instant_it_is_paid_for_keeps_it() {
        // 500/s: 50 every 100 ms exactly, the tightest schedule the pacer allows. Ten calls fit in one second.
        let pacing = Pacing::of(&calls(&[100; 30], 50), BULK, 500.0, BASE_SLACK);
        assert!(pacing.kept(500.0), "{pacing:?}");
        assert!(pacing.busiest_second <= 550, "{pacing:?}");
        assert!(pacing.paced_rate.unwrap() <= 500.0 + 1e-9, "{pacing:?}");
    }

    #[test]
    fn a_burst_at_the_start_is_not_kept() {
        // What the old token bucket allowed: a second's worth at once, then the rate.
        let pacing = Pacing::of(&calls(&[0, 0, 500, 500, 500, 500], 50), BULK, 100.0, BASE_SLACK);
        assert!(!pacing.kept(100.0), "{pacing:?}");
        assert!(pacing.worst_overrun >= 49.0, "{pacing:?}");
        assert!(pacing.paced_rate.unwrap() > 100.0, "{pacing:?}");
    }

    #[test]
    fn calls_faster_than_the_rate_are_not_kept() {
        let pacing = Pacing::of(&calls(&[0, 100, 100, 100, 100, 100, 100], 50), BULK, 100.0, BASE_SLACK);
        assert!(!pacing.kept(100.0), "{pacing:?}");
        assert!(pacing.busiest_second > 150, "{pacing:?}");
    }

    #[test]
    fn the_allowance_is_the_last_calls_batch_not_the_largest() {
        // 500/s: 50 recipients, then 10 only 52 ms later (the 50 need 100 ms). The stretch exceeds the rate by
        // less than the largest batch, but by more than its last call's 10.
        let pacing = Pacing::of(&sized(&[(0, 50), (52, 10)]), BULK, 500.0, BASE_SLACK);
        assert!(pacing.worst_excess < 50.0, "{pacing:?}");
        assert!(!pacing.kept(500.0), "{pacing:?}");
        // The other way round is within the rate: the 10 are paid for after 20 ms.
        assert!(Pacing::of(&sized(&[(0, 10), (52, 50)]), BULK, 500.0, BASE_SLACK).kept(500.0));
    }

    #[test]
    fn a_crowded_second_is_not_kept_even_if_the_stretches_are() {
        let pacing = Pacing { busiest_second: 551, ..Pacing::of(&calls(&[100; 30], 50), BULK, 500.0, BASE_SLACK) };
        assert!(!pacing.kept(500.0), "{pacing:?}");
    }

    #[test]
    fn a_call_seen_late_is_within_the_rate_given_the_lateness_measured() {
        // 500/s, 50 a call: booked every 100 ms, but the third is seen 9 ms late and the fourth on time.
        let calls = calls(&[0, 100, 109, 91, 100], 50);
        assert!(!Pacing::of(&calls, BULK, 500.0, BASE_SLACK).kept(500.0), "without the lateness it looks too fast");
        let pacing = Pacing::of(&calls, BULK, 500.0, BASE_SLACK + Duration::from_millis(9));
        assert!(pacing.kept(500.0), "{pacing:?}");
        assert!(pacing.slack_is_telling(500.0), "5.5 recipients of slack against batches of 50");
    }

    #[test]
    fn a_slack_worth_half_a_batch_makes_no_verdict() {
        let pacing = Pacing::of(&calls(&[100; 5], 50), BULK, 500.0, Duration::from_millis(50));
        assert!(!pacing.slack_is_telling(500.0), "{pacing:?}");
    }

    #[tokio::test]
    async fn lateness_measures_how_far_past_their_deadline_timers_fire() {
        let lateness = Lateness::start();
        // A blocking stretch on the only worker thread keeps the sampler from waking on time.
        tokio::time::sleep(Duration::from_millis(3)).await;
        std::thread::sleep(Duration::from_millis(20));
        tokio::time::sleep(Duration::from_millis(3)).await;
        let worst = lateness.stop().await;
        assert!(worst >= Duration::from_millis(15), "{worst:?}");
    }

    #[test]
    fn other_actions_are_ignored() {
        let pacing = Pacing::of(&calls(&[0, 0, 0], 10), "PublishBatch", 1.0, BASE_SLACK);
        assert_eq!((pacing.calls, pacing.batch), (0, 0));
        assert_eq!(pacing.paced_rate, None);
        assert!(pacing.kept(1.0));
    }

    /// Runs `senders` tasks that each acquire `sizes` from one limiter at 500/s and note when each call would go
    /// out, on tokio's paused clock.
    async fn through_the_limiter(senders: usize, sizes: &[usize]) -> Vec<Call> {
        let limiter = Arc::new(RateLimiter::per_second(500.0));
        let noted = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..senders)
            .map(|_| {
                let (limiter, noted, sizes) = (limiter.clone(), noted.clone(), sizes.to_vec());
                tokio::spawn(async move {
                    for items in sizes {
                        limiter.acquire(items).await;
                        let at = tokio::time::Instant::now().into_std();
                        noted.lock().unwrap().push(Call { action: BULK.into(), at, items, latency: None });
                        // The service answering, which overlaps the wait for the next call.
                        tokio::time::sleep(Duration::from_millis(7)).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let mut calls = std::mem::take(&mut *noted.lock().unwrap());
        calls.sort_by_key(|c| c.at);
        calls
    }

    #[tokio::test(start_paused = true)]
    async fn flare_cores_limiter_keeps_the_contract() {
        let start = tokio::time::Instant::now();
        let calls = through_the_limiter(1, &[50; 40]).await;
        let second = calls[1].at.saturating_duration_since(start.into_std());
        assert!(second >= Duration::from_millis(100), "the second call waits for the first's batch, {second:?}");
        let pacing = Pacing::of(&calls, BULK, 500.0, BASE_SLACK);
        assert!(pacing.kept(500.0), "{pacing:?}");
        assert!(pacing.paced_rate.unwrap() <= 500.0, "{pacing:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn flare_cores_limiter_keeps_it_with_mixed_batches_and_concurrent_senders() {
        let calls = through_the_limiter(4, &[50, 10, 50, 1, 37, 50, 50, 3]).await;
        assert_eq!(calls.len(), 32);
        let pacing = Pacing::of(&calls, BULK, 500.0, BASE_SLACK);
        assert!(pacing.kept(500.0), "{pacing:?}");
        assert!(pacing.paced_rate.unwrap() <= 500.0 + 1e-6, "{pacing:?}");
    }
}
