//! The SQLite schema and how a database file is brought up to it.
//!
//! Migrations are SQL files under `migrations/`, applied in order, all pending ones in one transaction. The
//! schema version is the database's `PRAGMA user_version`: 0 for a new file, then the number of the last
//! migration applied. A file written by a newer Flare is refused rather than guessed at. Migrations are only
//! ever appended; a released one is never edited.

use rusqlite::{Connection, TransactionBehavior};
use tracing::info;

/// One step of the schema.
#[derive(Debug)]
pub(crate) struct Migration {
    /// The `user_version` after this step; the steps count up from 1 without gaps.
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("migrations/0001_initial.sql") },
    Migration { version: 2, name: "dispatch", sql: include_str!("migrations/0002_dispatch.sql") },
    Migration { version: 3, name: "event state", sql: include_str!("migrations/0003_event_state.sql") },
    Migration { version: 4, name: "poll", sql: include_str!("migrations/0004_poll.sql") },
    Migration { version: 5, name: "digest ledger", sql: include_str!("migrations/0005_digest_ledger.sql") },
];

/// The schema version this build writes.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The database was written by a newer Flare than this one.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database is at schema version {found}, but this build of Flare only knows up to {known}: \
     run the newer Flare that wrote it, or restore a backup"
)]
pub struct SchemaTooNew {
    pub found: i64,
    pub known: i64,
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrationError {
    #[error(transparent)]
    TooNew(#[from] SchemaTooNew),
    #[error("migrating the database schema failed")]
    Sqlite(#[from] rusqlite::Error),
}

/// Applies every migration newer than the database's version. `BEGIN IMMEDIATE` makes two processes opening
/// the same new file take turns, so the second finds the work done.
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64, MigrationError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = latest();
    if found > known {
        return Err(SchemaTooNew { found, known }.into());
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.execute_batch(m.sql)?;
        info!(version = m.version, name = m.name, "applied database migration");
    }
    if found < known {
        tx.pragma_update(None, "user_version", known)?;
    }
    tx.commit()?;
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap()
    }

    #[test]
    fn migrations_count_up_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i64::try_from(i).unwrap() + 1, "{}", m.name);
        }
    }

    #[test]
    fn a_fresh_database_is_brought_to_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), latest());
        assert_eq!(user_version(&conn), latest());
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute("UPDATE ticket_counter SET last = 7", []).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn), latest());
        let last: i64 = conn.query_row("SELECT last FROM ticket_counter", [], |r| r.get(0)).unwrap();
        assert_eq!(last, 7);
    }

    #[test]
    fn a_database_from_a_newer_flare_is_refused_and_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest() + 1).unwrap();
        let e = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(e, MigrationError::TooNew(SchemaTooNew { found, known }) if found == latest() + 1 && known == latest())
        );
        assert_eq!(user_version(&conn), latest() + 1);
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 0);
    }
}
