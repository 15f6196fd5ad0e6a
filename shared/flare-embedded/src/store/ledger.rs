//! [`LedgerStore`] on SQLite: the `deliveries` table, one row per batch of one event on one channel, read in
//! primary-key order (event, channel name, batch), which is the order the DynamoDB adapter's sort keys give; and
//! the `digest_deliveries` table, one row per batch of one week's digest.

use async_trait::async_trait;
use flare_core::timefmt::sortable;
use flare_core::{Delivery, DigestDelivery, LedgerStore, StoreError, TicketNumber};
use rusqlite::params;
use time::OffsetDateTime;

use super::SqliteStore;
use super::codec::{docs, encode, int};

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let Delivery { ticket, seq, channel, batch, .. } = *delivery;
        let (n, s, doc) = (int(ticket.number())?, int(seq)?, encode(delivery)?);
        self.write(move |tx| {
            let sql = "INSERT INTO deliveries (ticket, seq, channel, batch, doc) VALUES (?1, ?2, ?3, ?4, ?5) \
                       ON CONFLICT (ticket, seq, channel, batch) DO NOTHING";
            match tx.prepare_cached(sql)?.execute(params![n, s, channel.as_str(), batch, doc])? {
                0 => {
                    let what = format!("delivery {ticket} event {seq} {channel} batch {batch}");
                    Err(StoreError::AlreadyExists { what }.into())
                }
                _ => Ok(()),
            }
        })
        .await
    }

    async fn event_deliveries(&self, ticket: TicketNumber, seq: u64) -> Result<Vec<Delivery>, StoreError> {
        let (n, s) = (int(ticket.number())?, int(seq)?);
        self.read(move |conn| {
            let sql = "SELECT doc FROM deliveries WHERE ticket = ?1 AND seq = ?2 ORDER BY channel, batch";
            docs(conn, "delivery", sql, [n, s])
        })
        .await
    }

    async fn deliveries(&self, ticket: TicketNumber) -> Result<Vec<Delivery>, StoreError> {
        let n = int(ticket.number())?;
        self.read(move |conn| {
            let sql = "SELECT doc FROM deliveries WHERE ticket = ?1 ORDER BY seq, channel, batch";
            docs(conn, "delivery", sql, [n])
        })
        .await
    }

    async fn record_digest(&self, delivery: &DigestDelivery) -> Result<(), StoreError> {
        let (week, batch, doc) = (sortable(delivery.week), delivery.batch, encode(delivery)?);
        self.write(move |tx| {
            let sql = "INSERT INTO digest_deliveries (week, batch, doc) VALUES (?1, ?2, ?3) \
                       ON CONFLICT (week, batch) DO NOTHING";
            match tx.prepare_cached(sql)?.execute(params![week, batch, doc])? {
                0 => {
                    Err(StoreError::AlreadyExists { what: format!("digest of the week of {week} batch {batch}") }
                        .into())
                }
                _ => Ok(()),
            }
        })
        .await
    }

    async fn digest_deliveries(&self, week: OffsetDateTime) -> Result<Vec<DigestDelivery>, StoreError> {
        let week = sortable(week);
        self.read(move |conn| {
            let sql = "SELECT doc FROM digest_deliveries WHERE week = ?1 ORDER BY batch";
            docs(conn, "digest delivery", sql, [week])
        })
        .await
    }
}
