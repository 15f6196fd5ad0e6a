//! The dispatch queue: the timeline events the self-hosted worker has yet to deliver, as an outbox table.
//!
//! [`enqueue`] runs inside the transaction of `create` and `save` (see [`super::incidents`]), so an event is
//! queued exactly when it is committed. The worker then polls [`SqliteStore::due_events`], and settles each one
//! with [`SqliteStore::finish_event`] or [`SqliteStore::postpone_event`]. This module owns only the queue; what
//! a delivery does, and the ledger that makes a retry safe, belong to the dispatcher and [`super::ledger`].

use flare_core::timefmt::sortable;
use flare_core::{StoreError, TicketNumber};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::codec::{int, ticket, uint};
use super::{Failure, SqliteStore};

/// The most characters of a failure kept in `last_error`: enough to tell one failure from another in the
/// database, not a place for whole responses.
const ERROR_MAX_CHARS: usize = 500;

/// The worker's poll, `?1` the time and `?2` the limit: a range of the `dispatch_queue_by_due` index, in order.
/// Only an incident's earliest queued event is due: while one is postponed, the later ones wait behind it, so
/// nobody hears "resolved" before "opened".
pub(super) const DUE: &str = "SELECT q.ticket, q.seq, q.attempts FROM dispatch_queue q WHERE q.due_at <= ?1 \
     AND NOT EXISTS (SELECT 1 FROM dispatch_queue e WHERE e.ticket = q.ticket AND e.seq < q.seq) \
     ORDER BY q.due_at, q.ticket, q.seq LIMIT ?2";

/// A queued event that is due, with the failed attempts its row counts: the worker's whole retry state lives in
/// the row, so a restart keeps each event's backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedEvent {
    pub ticket: TicketNumber,
    pub seq: u64,
    /// Attempts that failed so far: 0 for an event never tried.
    pub attempts: u32,
}

/// Queues event `seq` of incident `ticket`, due at `due_at` (a sortable time).
pub(super) fn enqueue(conn: &Connection, ticket: i64, seq: i64, due_at: &str) -> Result<(), Failure> {
    conn.prepare_cached("INSERT INTO dispatch_queue (ticket, seq, due_at) VALUES (?1, ?2, ?3)")?
        .execute(params![ticket, seq, due_at])?;
    Ok(())
}

/// `error` cut to [`ERROR_MAX_CHARS`], on a character boundary.
fn short(error: &str) -> String {
    match error.char_indices().nth(ERROR_MAX_CHARS) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error.to_string(),
    }
}

impl SqliteStore {
    /// Up to `limit` queued events due at or before `now`, the longest due first (by due time, then ticket and
    /// sequence). Only each incident's earliest queued event is returned, so its events go out in order: one
    /// that is postponed holds back those after it.
    pub async fn due_events(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<QueuedEvent>, StoreError> {
        let now = sortable(now);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(DUE)?;
            let rows = stmt.query_map(params![now, limit], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })?;
            rows.map(|row| {
                let (n, seq, attempts) = row?;
                let seq = uint(format_args!("queued event of ticket {n}"), seq)?;
                let attempts = uint(format_args!("attempts of event {seq} of ticket {n}"), attempts)?;
                Ok(QueuedEvent { ticket: ticket(n)?, seq, attempts: u32::try_from(attempts).unwrap_or(u32::MAX) })
            })
            .collect()
        })
        .await
    }

    /// Takes a delivered event off the queue. Finishing an event that is not queued does nothing.
    pub async fn finish_event(&self, ticket: TicketNumber, seq: u64) -> Result<(), StoreError> {
        let (n, s) = (int(ticket.number())?, int(seq)?);
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM dispatch_queue WHERE ticket = ?1 AND seq = ?2")?.execute([n, s])?;
            Ok(())
        })
        .await
    }

    /// Puts a failed event back on the queue, due again at `due_at`, counting the attempt and keeping a short
    /// `error`. The caller passes a display text for people reading the database: never a secret or a body.
    /// Postponing an event that is not queued does nothing.
    pub async fn postpone_event(
        &self,
        ticket: TicketNumber,
        seq: u64,
        due_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError> {
        let (n, s, due_at, error) = (int(ticket.number())?, int(seq)?, sortable(due_at), short(error));
        self.write(move |tx| {
            let sql = "UPDATE dispatch_queue SET due_at = ?3, attempts = attempts + 1, last_error = ?4 \
                       WHERE ticket = ?1 AND seq = ?2";
            tx.prepare_cached(sql)?.execute(params![n, s, due_at, error])?;
            Ok(())
        })
        .await
    }

    /// How many events are queued, due or not.
    pub async fn pending_events(&self) -> Result<usize, StoreError> {
        self.read(|conn| {
            let count: i64 = conn.prepare_cached("SELECT count(*) FROM dispatch_queue")?.query_row([], |r| r.get(0))?;
            Ok(usize::try_from(count).map_err(StoreError::unavailable)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_is_cut_on_a_character_boundary() {
        let long = "é".repeat(ERROR_MAX_CHARS + 10);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), ERROR_MAX_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(short("refused"), "refused");
    }
}
