//! The self-hosted event worker: drains the dispatch queue that every SQLite write fills (in the same
//! transaction as the timeline event), through the same [`Dispatcher`] the Lambda runs for the DynamoDB stream.
//!
//! An event whose delivery is incomplete (a throttled batch, a ticketing system that is down) stays queued and is
//! tried again after a growing delay (15 s, doubling, then hourly); the ledger makes each retry send only what is
//! still owed. An event that keeps failing stays queued and is logged on every try: it is never dropped silently.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flare_core::dispatch::Dispatcher;
use flare_core::error::error_chain;
use flare_core::{Clock, StoreError, TicketNumber};
use tracing::{info, warn};

use crate::SqliteStore;

/// Events taken from the queue per round.
const ROUND: usize = 32;
/// The first retry delay, doubled per failure up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(15);
const RETRY_MAX: Duration = Duration::from_secs(3_600);

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
    failures: Arc<std::sync::Mutex<HashMap<(TicketNumber, u64), u32>>>,
}

impl Worker {
    pub fn new(store: Arc<SqliteStore>, dispatcher: Dispatcher, clock: Arc<dyn Clock>) -> Self {
        Self { store, dispatcher: Arc::new(dispatcher), clock, failures: Arc::default() }
    }

    /// Delivers every event due now, oldest first, until none is left.
    pub async fn drain(&self) -> Result<Drained, StoreError> {
        let mut drained = Drained::default();
        loop {
            let due = self.store.due_events(self.clock.now(), ROUND).await?;
            if due.is_empty() {
                return Ok(drained);
            }
            for (ticket, seq) in due {
                match self.dispatcher.dispatch(ticket, seq).await {
                    Ok(report) => {
                        info!(%ticket, seq, ?report, "event delivered");
                        self.store.finish_event(ticket, seq).await?;
                        self.forget(ticket, seq);
                        drained.delivered += 1;
                    }
                    Err(e) => {
                        let delay = self.next_delay(ticket, seq);
                        warn!(%ticket, seq, error = %error_chain(&e), retry_in_secs = delay.as_secs(), "event not fully delivered");
                        let due_at = self.clock.now() + delay;
                        self.store.postpone_event(ticket, seq, due_at, &e.to_string()).await?;
                        drained.postponed += 1;
                    }
                }
            }
        }
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
                Err(e) => warn!(error = %e, "cannot read the dispatch queue; trying again shortly"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    fn next_delay(&self, ticket: TicketNumber, seq: u64) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = failures.entry((ticket, seq)).or_insert(0);
        *n = n.saturating_add(1);
        RETRY_FIRST.saturating_mul(1 << (*n - 1).min(12)).min(RETRY_MAX)
    }

    fn forget(&self, ticket: TicketNumber, seq: u64) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&(ticket, seq));
    }
}
