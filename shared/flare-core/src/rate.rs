//! Pacing for the mail adapters (SES, SMTP): a pacer that keeps bulk sends under a configured maximum send rate.
//! Retrying what a service still reports as throttled is [`crate::retry`]'s schedule.
//!
//! The pacer is hand-written on purpose: a GCRA limiter (`governor`) cannot admit a 50-recipient call at 14 per
//! second without saving up a burst, which is exactly what an SES send rate forbids.
//!
//! Time comes from `tokio::time`, so tests run it with paused time. Nothing here does I/O; classifying a
//! service's errors belongs to each adapter.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A pacer admitting `rate` units per second, with no saved-up burst.
///
/// Each [`RateLimiter::acquire`] of `n` units is given a start time: now, or when the previous reservation's
/// units are paid for at `rate`, whichever is later. It waits until then and books the next start `n / rate`
/// later. So calls go out back to back at the rate (a 50-recipient call every 100 ms at 500 per second, the
/// time a call takes overlapping the wait for the next), an idle spell saves nothing up, and from any call on,
/// at most `rate × t` units plus that one call's batch have gone out `t` seconds later. A call of more than a
/// second's worth (50 recipients at 14 per second) goes out alone and holds the next back for as long as it
/// is worth; concurrent callers queue in the order they reserved.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    /// When the next reservation may start.
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter admitting `rate` units per second on average. Rates below one per second are raised to one,
    /// so a misconfigured zero cannot stall sending forever.
    pub fn per_second(rate: f64) -> Self {
        let rate = if rate.is_finite() { rate.max(1.0) } else { 1.0 };
        Self { rate, next: Mutex::new(Instant::now()) }
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

    /// Books the next start for `n` units and returns how long the caller must wait for it.
    fn reserve(&self, n: usize) -> Duration {
        let now = Instant::now();
        // A poisoned lock only means another sender panicked mid-update; the time is still usable.
        let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let start = (*next).max(now);
        *next = start + Duration::from_secs_f64(n as f64 / self.rate);
        start - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_first_call_goes_at_once_and_the_next_when_it_is_paid_for() {
        let limiter = RateLimiter::per_second(10.0);
        let start = Instant::now();
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_of_m_units_at_n_per_second_start_m_over_n_seconds_apart() {
        let limiter = RateLimiter::per_second(14.0);
        let start = Instant::now();
        for _ in 0..6 {
            limiter.acquire(50).await;
        }
        // The sixth call starts once the first five are paid for: 250 units at 14/s.
        let expected = Duration::from_secs_f64(250.0 / 14.0);
        assert!(start.elapsed().abs_diff(expected) < Duration::from_millis(2), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_in_a_call_counts_toward_the_wait_for_the_next() {
        let limiter = RateLimiter::per_second(500.0);
        let start = Instant::now();
        limiter.acquire(50).await;
        tokio::time::sleep(Duration::from_millis(30)).await; // the service answering
        limiter.acquire(50).await;
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_sender_saves_up_no_burst() {
        let limiter = RateLimiter::per_second(5.0);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        limiter.acquire(10).await;
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
