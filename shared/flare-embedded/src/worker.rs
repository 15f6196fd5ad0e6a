//! The self-hosted event worker: drains the dispatch queue that every SQLite write fills (in the same
//! transaction as the timeline event), through the same [`Dispatcher`] the Lambda runs for the DynamoDB stream.
//!
//! An event whose delivery is incomplete (a throttled batch, a ticketing system that is down) stays queued and is
//! tried again after a growing delay ([`retry_delay`]); the ledger makes each retry send only what is still owed.
//! The worker keeps no state of its own: the attempts and the next due time live in the queue row, so a restart
//! keeps each event's backoff. An event that keeps failing stays queued and is logged on every try: it is never
//! dropped silently.

use std::sync::Arc;
use std::time::Duration;

use flare_core::Dispatcher;
use flare_core::error_chain;
use flare_core::retry::Backoff;
use flare_core::{Clock, StoreError};
use tracing::{Instrument, info, info_span, warn};

use crate::SqliteStore;
use crate::store::QueuedEvent;

/// Events taken from the queue per round.
const ROUND: usize = 32;
/// The first retry delay, doubled per failure up to [`RETRY_MAX`], each with up to as much again of jitter so
/// that events failed together do not come back together.
pub const RETRY_FIRST: Duration = Duration::from_secs(15);
pub const RETRY_MAX: Duration = Duration::from_secs(3_600);

/// How long to wait before trying an event again after its `attempt`th failure (1 for the first): the shared
/// retry schedule ([`flare_core::retry`]), from [`RETRY_FIRST`] doubling to [`RETRY_MAX`], with jitter.
pub fn retry_delay(attempt: u32) -> Duration {
    // The delay stops growing at the cap long before this many steps; bounding the walk keeps it cheap.
    let steps = attempt.clamp(1, 32);
    Backoff { max_attempts: steps + 1, base: RETRY_FIRST, max_delay: RETRY_MAX }.delays().last().unwrap_or(RETRY_MAX)
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Events fully delivered and taken off the queue.
    pub delivered: usize,
    /// Events still owing something, put back with a delay.
    pub postponed: usize,
}

/// Drains the dispatch queue.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Arc<SqliteStore>,
    dispatcher: Arc<Dispatcher>,
    clock: Arc<dyn Clock>,
}

impl Worker {
    pub fn new(store: Arc<SqliteStore>, dispatcher: Dispatcher, clock: Arc<dyn Clock>) -> Self {
        Self { store, dispatcher: Arc::new(dispatcher), clock }
    }

    /// Delivers every event due now, oldest first, until none is left.
    pub async fn drain(&self) -> Result<Drained, StoreError> {
        let mut drained = Drained::default();
        loop {
            let due = self.store.due_events(self.clock.now(), ROUND).await?;
            if due.is_empty() {
                return Ok(drained);
            }
            for queued in due {
                let span = info_span!("event", ticket = %queued.ticket, seq = queued.seq, attempts = queued.attempts);
                self.deliver(queued, &mut drained).instrument(span).await?;
            }
        }
    }

    /// Delivers one queued event, then takes it off the queue or puts it back with its next delay.
    async fn deliver(&self, queued: QueuedEvent, drained: &mut Drained) -> Result<(), StoreError> {
        let QueuedEvent { ticket, seq, attempts } = queued;
        match self.dispatcher.dispatch(ticket, seq).await {
            Ok(report) => {
                info!(?report, "event delivered");
                self.store.finish_event(ticket, seq).await?;
                drained.delivered += 1;
            }
            Err(e) => {
                let delay = retry_delay(attempts.saturating_add(1));
                warn!(error.cause_chain = %error_chain(&e), retry_in_secs = delay.as_secs(), "event not fully delivered");
                let due_at = self.clock.now() + delay;
                self.store.postpone_event(ticket, seq, due_at, &e.to_string()).await?;
                drained.postponed += 1;
            }
        }
        Ok(())
    }

    /// Drains the queue now, then every `poll`, until `shutdown` resolves. A store failure is
    /// logged and the next round tried: the queue is durable, so nothing is lost meanwhile.
    pub async fn run(self, poll: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.drain().await {
                Ok(d) if d != Drained::default() => {
                    info!(delivered = d.delivered, postponed = d.postponed, "queue drained")
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error.cause_chain = %error_chain(&e), "cannot read the dispatch queue; trying again shortly")
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_waits_between_one_and_two_first_delays() {
        let delay = retry_delay(1);
        assert!(delay >= RETRY_FIRST && delay < RETRY_FIRST * 2, "{delay:?}");
    }

    #[test]
    fn each_failure_doubles_the_delay_before_jitter() {
        let delay = retry_delay(3);
        assert!(delay >= RETRY_FIRST * 4 && delay < RETRY_FIRST * 8, "{delay:?}");
    }

    #[test]
    fn the_delay_stops_growing_at_the_cap() {
        let delay = retry_delay(1_000);
        assert!(delay >= RETRY_MAX && delay < RETRY_MAX * 2, "{delay:?}");
    }
}
