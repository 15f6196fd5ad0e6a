//! The reporter's schedule in `flare serve`: on every tick, the post-incident reports that are due; once a
//! week, when a tick crosses the digest's hour (Monday, UTC), the weekly digest.
//!
//! The reports are claimed in the ledger by [`flare_core::report::Reporter`], so ticks never send one twice. The
//! digest is edge-triggered: it goes out only from a tick that crosses its hour since the previous tick of this
//! process, so a restart never sends it again (a process down at that very hour misses that week's; `flare
//! report digest` sends it by hand).

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

    /// One tick: the due reports, and the digest if its hour lies in `(previous, now]`.
    pub async fn tick(&self, previous: Option<OffsetDateTime>) -> OffsetDateTime {
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
        if previous.is_some_and(|p| digest_hour_between(p, now, self.digest_hour))
            && let Err(e) = self.reporter.send_digest().await
        {
            warn!(error.cause_chain = %error_chain(&e), "the weekly digest failed; send it with `flare report digest`");
        }
        now
    }

    pub async fn run(self, poll: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut previous = None;
        loop {
            previous = Some(self.tick(previous).await);
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Whether Monday at `hour` UTC falls in `(from, to]`.
fn digest_hour_between(from: OffsetDateTime, to: OffsetDateTime, hour: u8) -> bool {
    let monday = to.date() - time::Duration::days(i64::from(to.weekday().number_days_from_monday()));
    let at = Time::from_hms(hour, 0, 0).map(|t| monday.with_time(t).assume_utc());
    debug_assert_eq!(monday.weekday(), Weekday::Monday);
    at.is_ok_and(|at| from < at && at <= to)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_digest_goes_out_from_the_tick_that_crosses_monday_at_its_hour() {
        assert!(digest_hour_between(datetime!(2026-11-30 06:59 UTC), datetime!(2026-11-30 07:04 UTC), 7));
    }

    #[test]
    fn ticks_after_the_digest_hour_do_not_send_it_again() {
        assert!(!digest_hour_between(datetime!(2026-11-30 07:04 UTC), datetime!(2026-11-30 07:09 UTC), 7));
        assert!(!digest_hour_between(datetime!(2026-12-01 06:59 UTC), datetime!(2026-12-01 07:04 UTC), 7));
    }
}
