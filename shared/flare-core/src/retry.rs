//! The one retry schedule every adapter uses for a transient failure (a throttled entry, a 429, a 5xx, a
//! timeout), and the one reading of `Retry-After`.
//!
//! It owns *when* to try again: exponential backoff with jitter, from `backon`, so callers that failed together
//! do not come back together. It does not own the loops: each adapter decides what failed and what to send
//! again (only the throttled entries of a batch, say), and whether a vendor's answer is worth another attempt.
//! Nothing here does I/O.
//!
//! Sleeps go through a [`Sleeper`]; [`TokioSleeper`] is `tokio::time::sleep`, so a test on paused tokio time
//! runs a whole schedule without waiting.

use std::time::{Duration, SystemTime};

pub use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable, Sleeper, TokioSleeper};

/// The longest `Retry-After` an adapter waits for by default. A service asking for more ends the attempts, so
/// the caller (the dispatcher, a worker) comes back later instead of holding a task for minutes.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(30);

/// How hard to retry one operation: exponential backoff with jitter and a bounded number of attempts.
///
/// The wait before the second attempt is drawn from `[base, 2 × base)`; each later one doubles the step, which
/// stops growing at `max_delay` (the jitter may still add up to one step more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included; at least one is always made.
    pub max_attempts: u32,
    /// The step before the second attempt.
    pub base: Duration,
    /// The largest step between two attempts, before jitter.
    pub max_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { max_attempts: 5, base: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl Backoff {
    /// The schedule as a `backon` builder, for [`Retryable::retry`] on a whole operation.
    pub fn builder(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.max_delay.max(self.base))
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// The waits between attempts, one fewer than `max_attempts`: what a partial-batch loop iterates, sleeping
    /// each and sending again only what failed, until the batch is done or the waits run out.
    pub fn delays(&self) -> ExponentialBackoff {
        self.builder().build()
    }
}

/// What a service's `Retry-After` asks for, measured against the longest wait the caller accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// A wait within the cap: sleep it, then try again.
    Wait(Duration),
    /// A wait beyond the cap: stop trying now and report it, so the caller can come back that much later.
    TooLong(Duration),
}

impl RetryAfter {
    /// How long the service asked to wait, whether or not it is within the cap.
    pub fn asked(self) -> Duration {
        match self {
            Self::Wait(d) | Self::TooLong(d) => d,
        }
    }
}

/// Reads a `Retry-After` value, delta-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), as a
/// wait from `now`, judged against `cap`. A date already past is a wait of zero. `None` when the value is
/// neither, in which case the caller falls back to its [`Backoff`].
pub fn retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<RetryAfter> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => until(httpdate::parse_http_date(value).ok()?, now),
    };
    Some(if wait > cap { RetryAfter::TooLong(wait) } else { RetryAfter::Wait(wait) })
}

/// The wait from `now` until `at`; zero when `at` has passed.
pub fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

/// An HTTP status worth another attempt: the service timed out (408), throttled (429) or failed (5xx). Every
/// other status is the service's final word on this request.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn each_wait_falls_within_its_doubling_step_plus_jitter() {
        let backoff = Backoff { max_attempts: 5, base: ms(100), max_delay: ms(10_000) };
        let waits: Vec<Duration> = backoff.delays().collect();
        for (wait, step) in waits.iter().zip([100, 200, 400, 800]) {
            assert!((ms(step)..ms(2 * step)).contains(wait), "{wait:?} for a step of {step} ms");
        }
    }

    #[test]
    fn there_is_one_wait_fewer_than_attempts() {
        let backoff = Backoff { max_attempts: 4, ..Backoff::default() };
        assert_eq!(backoff.delays().count(), 3);
    }

    #[test]
    fn a_single_attempt_never_waits() {
        let backoff = Backoff { max_attempts: 1, ..Backoff::default() };
        assert_eq!(backoff.delays().next(), None);
    }

    #[test]
    fn the_step_stops_growing_at_the_max_delay() {
        let backoff = Backoff { max_attempts: 12, base: ms(100), max_delay: ms(300) };
        let last = backoff.delays().last();
        assert!(last.is_some_and(|d| (ms(300)..ms(600)).contains(&d)), "{last:?}");
    }

    #[test]
    fn jitter_spreads_the_waits_of_callers_that_failed_together() {
        let backoff = Backoff { max_attempts: 2, base: ms(1_000), max_delay: ms(1_000) };
        let firsts: std::collections::HashSet<Option<Duration>> = (0..20).map(|_| backoff.delays().next()).collect();
        assert!(firsts.len() > 1, "twenty callers all drew {firsts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retried_operation_sleeps_on_the_tokio_clock() {
        let backoff = Backoff { max_attempts: 3, base: Duration::from_secs(60), max_delay: Duration::from_secs(60) };
        let calls = std::sync::atomic::AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let outcome = (|| async {
            match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 | 1 => Err("busy"),
                n => Ok(n),
            }
        })
        .retry(backoff.builder())
        .sleep(TokioSleeper)
        .await;
        assert_eq!(outcome, Ok(2));
        // Two waits of a minute or more passed on the paused clock, none of them for real.
        assert!(start.elapsed() >= Duration::from_secs(120), "{:?}", start.elapsed());
    }

    #[test]
    fn retry_after_reads_delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(retry_after(" 7 ", now, RETRY_AFTER_MAX), Some(RetryAfter::Wait(Duration::from_secs(7))));
    }

    #[test]
    fn retry_after_reads_an_http_date_as_the_wait_until_it() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_460); // 07:27:40 on that day
        let asked = retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now, RETRY_AFTER_MAX);
        assert_eq!(asked, Some(RetryAfter::Wait(Duration::from_secs(20))));
    }

    #[test]
    fn retry_after_a_date_already_past_is_no_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
        let asked = retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now, RETRY_AFTER_MAX);
        assert_eq!(asked, Some(RetryAfter::Wait(Duration::ZERO)));
    }

    #[test]
    fn retry_after_beyond_the_cap_is_too_long_and_keeps_the_wait() {
        let asked = retry_after("3600", SystemTime::now(), RETRY_AFTER_MAX);
        assert_eq!(asked, Some(RetryAfter::TooLong(Duration::from_secs(3600))));
        assert_eq!(asked.map(RetryAfter::asked), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn retry_after_that_is_neither_seconds_nor_a_date_is_ignored() {
        assert_eq!(retry_after("soon", SystemTime::now(), RETRY_AFTER_MAX), None);
        assert_eq!(retry_after("-5", SystemTime::now(), RETRY_AFTER_MAX), None);
    }

    #[test]
    fn throttling_timeouts_and_server_errors_are_retryable_and_refusals_are_not() {
        for status in [408, 429, 500, 502, 503, 599] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 301, 400, 401, 403, 404, 409, 422] {
            assert!(!retryable_status(status), "{status}");
        }
    }
}
