//! Was the SES send rate kept? Judged from when each bulk call went out (the [probe](crate::probe)), against
//! the token bucket the mailer paces with: it holds one second's worth of recipients and refills at the
//! configured rate. So for any two calls i < j, the recipients of the calls after i up to j may not exceed one
//! second's worth plus the rate times the time between them. A sender that keeps this never sustains more than
//! the configured rate; the only excess allowed is the one-second burst at the start.

use std::time::Duration;

use crate::probe::Call;

/// Clock slack allowed per comparison: `Instant` readings on either side of a sleep.
const SLACK: Duration = Duration::from_millis(2);

/// How one phase's bulk calls were paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub calls: usize,
    pub recipients: usize,
    /// From the first call going out to the last one.
    pub span: Duration,
    /// Recipients per second over the later half of the calls made after the initial burst (one second's
    /// worth) was spent; `None` when the phase never got past it.
    pub steady_rate: Option<f64>,
    /// The largest number of recipients sent in any stretch beyond what the rate allows for it, in recipients.
    /// At most one second's worth (the burst) when the rate was kept.
    pub worst_excess: f64,
    /// The most recipients whose calls went out within any one second: up to about twice the rate at the
    /// start (the burst plus a second's refill), never more than the rate once the burst is spent.
    pub busiest_second: usize,
    /// Mean and largest time the service took to answer one call.
    pub mean_latency: Duration,
    pub max_latency: Duration,
}

impl Pacing {
    /// Reads the calls of one action (`SendBulkTemplatedEmail`) out of everything the probe noted.
    pub fn of(calls: &[Call], action: &str, rate: f64) -> Self {
        let calls: Vec<&Call> = calls.iter().filter(|c| c.action == action).collect();
        let recipients = calls.iter().map(|c| c.items).sum();
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
        for i in 0..calls.len() {
            for j in i + 1..calls.len() {
                let sent = (before[j + 1] - before[i + 1]) as f64;
                let elapsed = calls[j].at.saturating_duration_since(calls[i].at) + SLACK;
                worst_excess = worst_excess.max(sent - rate * elapsed.as_secs_f64());
            }
        }

        // Once the burst is spent, its refill still lifts the calls just after it; the second half of what
        // follows shows the rate the limiter holds.
        let steady_rate = before.iter().position(|&sent| sent as f64 >= rate).and_then(|spent| {
            let from = spent.max(calls.len() / 2).checked_sub(1)?;
            let (first, last) = (calls.get(from)?, calls.last()?);
            let elapsed = last.at.saturating_duration_since(first.at).as_secs_f64();
            (elapsed > 0.0).then(|| (recipients - before[from + 1]) as f64 / elapsed)
        });

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
            span,
            steady_rate,
            worst_excess,
            busiest_second,
            mean_latency,
            max_latency,
        }
    }

    /// Whether no stretch exceeded the rate by more than the one-second burst.
    pub fn kept(&self, rate: f64) -> bool {
        self.worst_excess <= rate
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
    use std::time::Instant;

    use super::*;

    fn calls(gaps_ms: &[u64], items: usize) -> Vec<Call> {
        let start = Instant::now();
        let mut at = Duration::ZERO;
        gaps_ms
            .iter()
            .map(|gap| {
                at += Duration::from_millis(*gap);
                Call {
                    action: "SendBulkTemplatedEmail".into(),
                    at: start + at,
                    items,
                    latency: Some(Duration::from_millis(5)),
                }
            })
            .collect()
    }

    #[test]
    fn a_burst_then_calls_at_the_rate_keep_it() {
        // 100/s: two calls of 50 at once (the burst), then one every half second.
        let pacing = Pacing::of(&calls(&[0, 0, 500, 500, 500, 500], 50), "SendBulkTemplatedEmail", 100.0);
        assert_eq!((pacing.calls, pacing.recipients), (6, 300));
        assert!(pacing.kept(100.0), "{pacing:?}");
        let steady = pacing.steady_rate.unwrap();
        assert!((steady - 100.0).abs() < 1.0, "{steady}");
        assert_eq!(pacing.busiest_second, 150, "the burst and the refill of the first second");
    }

    #[test]
    fn calls_faster_than_the_rate_after_the_burst_do_not() {
        let pacing = Pacing::of(&calls(&[0, 0, 100, 100, 100, 100, 100], 50), "SendBulkTemplatedEmail", 100.0);
        assert!(!pacing.kept(100.0), "{pacing:?}");
    }

    #[test]
    fn other_actions_are_ignored() {
        let pacing = Pacing::of(&calls(&[0, 0, 0], 10), "PublishBatch", 1.0);
        assert_eq!(pacing.calls, 0);
        assert_eq!(pacing.steady_rate, None);
    }
}
