//! [`PollStore`] on SQLite: `poll_sources` (one document per source), `poll_rows` (each sheet row handled, with
//! the bad ones' record) and `poll_checks` (each probe's last [`CHECKS_KEPT`] checks; older ones are deleted as
//! new ones arrive).

use async_trait::async_trait;
use flare_core::StoreError;
use flare_core::poll::{BadRow, CHECKS_KEPT, PollStore, ProbeCheck, SourceState};
use rusqlite::params;

use super::SqliteStore;
use super::codec::{doc, docs, encode, exists, int};

#[async_trait]
impl PollStore for SqliteStore {
    async fn poll_sources(&self) -> Result<Vec<SourceState>, StoreError> {
        self.read(|conn| docs(conn, "poll source", "SELECT doc FROM poll_sources ORDER BY source", [])).await
    }

    async fn poll_source(&self, source: &str) -> Result<Option<SourceState>, StoreError> {
        let source = source.to_string();
        self.read(move |conn| {
            doc(conn, format!("poll source {source}"), "SELECT doc FROM poll_sources WHERE source = ?1", [&source])
        })
        .await
    }

    async fn put_poll_source(&self, state: &SourceState) -> Result<(), StoreError> {
        let (source, doc) = (state.source.clone(), encode(state)?);
        self.write(move |tx| {
            let sql = "INSERT INTO poll_sources (source, doc) VALUES (?1, ?2) \
                       ON CONFLICT (source) DO UPDATE SET doc = excluded.doc";
            tx.prepare_cached(sql)?.execute(params![source, doc])?;
            Ok(())
        })
        .await
    }

    async fn row_handled(&self, source: &str, key: &str) -> Result<bool, StoreError> {
        let (source, key) = (source.to_string(), key.to_string());
        self.read(move |conn| {
            exists(conn, "SELECT 1 FROM poll_rows WHERE source = ?1 AND key = ?2", params![source, key])
        })
        .await
    }

    async fn mark_row(&self, source: &str, key: &str, bad: Option<&BadRow>) -> Result<(), StoreError> {
        let (source, key) = (source.to_string(), key.to_string());
        let bad_row = bad.map(|b| int(b.row)).transpose()?;
        let doc = bad.map(encode).transpose()?;
        self.write(move |tx| {
            let sql = "INSERT INTO poll_rows (source, key, bad_row, doc) VALUES (?1, ?2, ?3, ?4) \
                       ON CONFLICT (source, key) DO NOTHING";
            tx.prepare_cached(sql)?.execute(params![source, key, bad_row, doc])?;
            Ok(())
        })
        .await
    }

    async fn bad_rows(&self, source: &str) -> Result<Vec<BadRow>, StoreError> {
        let source = source.to_string();
        self.read(move |conn| {
            let sql = "SELECT doc FROM poll_rows WHERE source = ?1 AND bad_row IS NOT NULL ORDER BY bad_row, key";
            docs(conn, "bad row", sql, [&source])
        })
        .await
    }

    async fn record_check(&self, check: &ProbeCheck) -> Result<(), StoreError> {
        let (source, seq, doc) = (check.source.clone(), int(check.seq)?, encode(check)?);
        let oldest_kept = int(check.seq.saturating_sub(CHECKS_KEPT - 1))?;
        self.write(move |tx| {
            let sql = "INSERT INTO poll_checks (source, seq, doc) VALUES (?1, ?2, ?3) \
                       ON CONFLICT (source, seq) DO UPDATE SET doc = excluded.doc";
            tx.prepare_cached(sql)?.execute(params![source, seq, doc])?;
            let sql = "DELETE FROM poll_checks WHERE source = ?1 AND seq < ?2";
            tx.prepare_cached(sql)?.execute(params![source, oldest_kept])?;
            Ok(())
        })
        .await
    }

    async fn checks(&self, source: &str, limit: usize) -> Result<Vec<ProbeCheck>, StoreError> {
        let source = source.to_string();
        let limit = int(limit.min(CHECKS_KEPT as usize) as u64)?;
        self.read(move |conn| {
            let sql = "SELECT doc FROM poll_checks WHERE source = ?1 ORDER BY seq DESC LIMIT ?2";
            docs(conn, "probe check", sql, params![source, limit])
        })
        .await
    }
}
