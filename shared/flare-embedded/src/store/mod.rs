//! [`SqliteStore`]: everything Flare stores, in one SQLite file.
//!
//! This module opens the file and runs operations; the ports are implemented one concept a file:
//! [`incidents`] (incidents, timeline, idempotency, ticket numbers), [`window`] (the dashboard query),
//! [`catalog`] (systems and subscribers), [`access`] (users and API keys), [`ledger`] (deliveries) and [`poll`]
//! (the poller's sources, handled rows and probe checks).
//! [`queue`] is the self-hosted worker's dispatch queue, which `incidents` fills. [`codec`] turns domain values
//! into rows and back.
//!
//! rusqlite is synchronous, so every operation runs on tokio's blocking pool. Writes share one connection
//! behind a mutex and each runs in its own `BEGIN IMMEDIATE` transaction, so writes never interleave and a
//! failed one leaves nothing behind. Reads take a connection from a small pool; WAL lets them run beside the
//! writer, each statement seeing the last committed state.

mod access;
mod catalog;
mod codec;
mod incidents;
mod ledger;
mod poll;
mod queue;
mod window;

pub use queue::QueuedEvent;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flare_core::StoreError;
use flare_core::timefmt::sortable;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use time::OffsetDateTime;
use tracing::warn;

use crate::migrations::{self, MigrationError};

/// How long a statement waits for another process (the CLI, say) to release the database before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle read connections kept for reuse; more are opened when reads pile up, and closed after.
const IDLE_READERS_MAX: usize = 4;

/// Flare's store for self-hosted mode: a SQLite file in WAL mode, migrated on open.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path`, creating it if needed, and brings its schema up to date.
    ///
    /// Refuses a database whose schema is newer than this build knows: the error's source is a
    /// [`SchemaTooNew`](crate::SchemaTooNew).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path).map_err(StoreError::unavailable)?;
        configure_writer(&writer).map_err(StoreError::unavailable)?;
        migrations::migrate(&mut writer).map_err(|e| match e {
            MigrationError::TooNew(e) => StoreError::unavailable(e),
            e @ MigrationError::Sqlite(_) => StoreError::unavailable(e),
        })?;
        let inner = Inner { path: path.to_path_buf(), writer: Mutex::new(writer), readers: Mutex::new(Vec::new()) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The file this store keeps its data in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Deletes the idempotency records that expired at or before `now`, and says how many. Expired records are
    /// already ignored; this only reclaims their space, so a schedule may run it whenever it likes.
    pub async fn purge_expired_idempotency(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        let now = sortable(now);
        self.write(move |tx| Ok(tx.execute("DELETE FROM idempotency WHERE expires_at <= ?1", [now])?)).await
    }

    /// Runs `op` in one `BEGIN IMMEDIATE` transaction on the writer connection, committing only if it succeeds.
    async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, Failure> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            // A panic while the lock was held unwound through the transaction, which rolled it back, so the
            // connection is still sound.
            let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = op(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// Runs `op` on a read connection from the pool.
    async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let conn = inner.take_reader()?;
            let out = op(&conn);
            inner.return_reader(conn);
            out
        })
        .await
    }
}

impl Inner {
    fn take_reader(&self) -> Result<Connection, rusqlite::Error> {
        let idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    fn return_reader(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS_MAX {
            idle.push(conn);
        }
    }
}

fn configure_writer(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        warn!(journal_mode = %mode, "SQLite could not switch to WAL; reads will wait for writes");
    }
    // With WAL, NORMAL loses at most the last commits on power loss, never consistency.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Opened read-write so it can use the WAL index like the writer does, but it must never write.
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Runs blocking database work off the async runtime.
async fn blocking<T, F>(op: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Failure> + Send + 'static,
{
    match tokio::task::spawn_blocking(op).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(e) => Err(StoreError::unavailable(e)),
    }
}

/// What ends an operation early: SQLite failed, or the operation found an outcome the caller handles.
#[derive(Debug)]
pub(crate) enum Failure {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Sqlite(e) => StoreError::unavailable(e),
            Failure::Store(e) => e,
        }
    }
}

#[cfg(test)]
mod tests;
