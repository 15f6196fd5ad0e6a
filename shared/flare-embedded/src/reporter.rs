//! The reporter's schedule in `flare serve`: on every tick, the post-incident reports that are due; once a
//! week, when a tick crosses the digest's hour (Monday, UTC), the weekly digest.
//!
//! The reports and the digest are claimed in the ledger by [`flare_core::report::Reporter`], so ticks never send
//! one twice, and a restart never sends one again. Every tick in the day after Monday's digest hour asks for the
//! digest: the first sends it, the later ones find the ledger's claim (one read) and send nothing, or resend to
//! the recipients the mail service deferred. A process down for that whole day misses the week's digest; `flare
//! report digest` sends it by hand. Outside that day no tick asks, so a fresh install does not mail last week's
//! digest on a Thursday.

use std::time::Duration;

use flare_core::Clock;
use flare_core::error_chain;
use flare_core::report::Reporter;
use time::{OffsetDateTime, Time, Weekday};
use tracing::{info, warn};

/// Runs the reporter every `poll` until `shutdown` resolves.
#[derive(Debug)]
pub struct ReportSchedule {
    reporter: Reporter,
    clock: std::sync::Arc<dyn Clock>,
    /// The hour (UTC) on Monday the digest goes out.
    digest_hour: u8,
}

impl ReportSchedule {
    pub fn new(reporter: Reporter, clock: std::sync::Arc<dyn Clock>, digest_hour: u8) -> Self {
        Self { reporter, clock, digest_hour: digest_hour.min(23) }
    }

    /// One tick: the due reports, and the digest in the day after its hour.
    pub async fn tick(&self) {
        let now = self.clock.now();
        match self.reporter.send_due_reports().await {
            Ok(run) if !run.sent.is_empty() || run.already_claimed > 0 => {
                info!(sent = run.sent.len(), already_claimed = run.already_claimed, "post-incident reports")
            }
            Ok(_) => {}
            Err(e) => {
                warn!(error.cause_chain = %error_chain(&e), "post-incident reports failed; trying again next tick")
            }
        }
        if in_digest_day(now, self.digest_hour) {
            match self.reporter.send_digest().await {
                Ok(run) if !run.sent_before => info!(sent = run.sent.len(), failed = run.failed.len(), "weekly digest"),
                Ok(_) => {}
                Err(e) => warn!(
                    error.cause_chain = %error_chain(&e),
                    "the weekly digest failed; trying again next tick (or send it with `flare report digest`)"
                ),
            }
        }
    }

    pub async fn run(self, poll: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.tick().await;
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Whether `now` lies in the 24 hours from Monday at `hour` UTC: the digest's day.
fn in_digest_day(now: OffsetDateTime, hour: u8) -> bool {
    let now = now.to_offset(time::UtcOffset::UTC);
    let monday = now.date() - time::Duration::days(i64::from(now.weekday().number_days_from_monday()));
    debug_assert_eq!(monday.weekday(), Weekday::Monday);
    let Ok(at) = Time::from_hms(hour, 0, 0).map(|t| monday.with_time(t).assume_utc()) else { return false };
    // Before Monday's hour, the day that counts is last week's, which ends on Tuesday at that hour.
    let at = if now < at { at - time::Duration::weeks(1) } else { at };
    at <= now && now < at + time::Duration::days(1)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_digest_is_asked_for_from_monday_at_its_hour() {
        assert!(!in_digest_day(datetime!(2026-11-30 06:59 UTC), 7));
        assert!(in_digest_day(datetime!(2026-11-30 07:00 UTC), 7));
    }

    #[test]
    fn the_digest_is_asked_for_until_a_day_after_its_hour_and_not_the_rest_of_the_week() {
        assert!(in_digest_day(datetime!(2026-12-01 06:59 UTC), 7), "Tuesday before the hour is still its day");
        assert!(!in_digest_day(datetime!(2026-12-01 07:00 UTC), 7));
        assert!(!in_digest_day(datetime!(2026-12-03 12:00 UTC), 7));
        assert!(!in_digest_day(datetime!(2026-12-06 23:59 UTC), 7));
    }
}
