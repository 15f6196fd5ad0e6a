//! Pacing for the mail adapters (SES, SMTP): a pacer that keeps bulk sends under a configured maximum send rate,
//! and the exponential backoff used when a service still reports an entry as throttled or busy.
//!
//! Time comes from `tokio::time`, so tests run it with paused time. Nothing here does I/O; classifying a
//! service's errors belongs to each adapter.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A pacer admitting `rate` units per second, with no saved-up burst.
///
/// [`RateLimiter::acquire`] reserves its units at once and then waits until they are paid for at `rate`, so
/// nothing goes out before its time: from any start, at most `rate × t` units have gone out after `t` seconds,
/// whether the sender was idle before or not. A request for more than a second's worth (50 recipients at 14 per
/// second) is admitted after the right delay instead of never, and concurrent callers queue in the order they
/// reserved. The service's maximum send rate is therefore never exceeded on average over any stretch longer
/// than one call's batch.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Zero when the pacer has caught up; negative while reservations are ahead of it.
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter admitting `rate` units per second on average. Rates below one per second are raised to one,
    /// so a misconfigured zero cannot stall sending forever.
    pub fn per_second(rate: f64) -> Self {
        let rate = if rate.is_finite() { rate.max(1.0) } else { 1.0 };
        Self { rate, state: Mutex::new(Bucket { tokens: 0.0, at: Instant::now() }) }
    }

    /// The configured rate, per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Waits until `n` units may be sent.
    pub async fn acquire(&self, n: usize) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes `n` tokens, going into debt if need be, and returns how long the caller must wait for the debt to
    /// be repaid.
    fn reserve(&self, n: usize) -> Duration {
        let now = Instant::now();
        // A poisoned lock only means another sender panicked mid-update; the numbers are still usable.
        let mut bucket = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(0.0);
        bucket.at = now;
        bucket.tokens -= n as f64;
        if bucket.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-bucket.tokens / self.rate) }
    }
}

/// Exponential backoff with a bounded number of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles each time.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { max_attempts: 5, base: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (1-based; the first attempt does not wait).
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(2).min(16));
        self.base.saturating_mul(factor).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn nothing_goes_out_before_it_is_paid_for() {
        let limiter = RateLimiter::per_second(10.0);
        let start = Instant::now();
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn sending_m_units_at_n_per_second_takes_m_over_n_seconds() {
        let limiter = RateLimiter::per_second(14.0);
        let start = Instant::now();
        for _ in 0..6 {
            limiter.acquire(50).await;
        }
        let expected = Duration::from_secs_f64(300.0 / 14.0);
        let elapsed = start.elapsed();
        assert!(elapsed >= expected - Duration::from_millis(1), "{elapsed:?} < {expected:?}");
        assert!(elapsed <= expected + Duration::from_millis(50), "{elapsed:?} > {expected:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_sender_saves_up_no_burst() {
        let limiter = RateLimiter::per_second(5.0);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn backoff_doubles_from_the_second_attempt_and_is_capped() {
        let b = Backoff { max_attempts: 10, base: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        assert_eq!(b.delay(1), Duration::ZERO);
        assert_eq!(b.delay(2), Duration::from_millis(100));
        assert_eq!(b.delay(3), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(400));
        assert_eq!(b.delay(9), Duration::from_secs(1));
    }
}
