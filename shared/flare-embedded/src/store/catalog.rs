//! [`CatalogStore`] on SQLite: systems by id, and subscribers keyed by system and contact.

use async_trait::async_trait;
use flare_core::{CatalogStore, StoreError, Subscriber, System, SystemId};
use rusqlite::params;

use super::SqliteStore;
use super::codec::{doc, docs, encode};

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn put_system(&self, system: &System) -> Result<(), StoreError> {
        let (id, doc) = (system.id.as_str().to_string(), encode(system)?);
        self.write(move |tx| {
            let sql = "INSERT INTO systems (id, doc) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc";
            tx.prepare_cached(sql)?.execute(params![id, doc])?;
            Ok(())
        })
        .await
    }

    async fn get_system(&self, id: &SystemId) -> Result<Option<System>, StoreError> {
        let id = id.as_str().to_string();
        self.read(move |conn| doc(conn, format_args!("system {id}"), "SELECT doc FROM systems WHERE id = ?1", [&id]))
            .await
    }

    async fn list_systems(&self) -> Result<Vec<System>, StoreError> {
        self.read(|conn| docs(conn, "system", "SELECT doc FROM systems ORDER BY id", [])).await
    }

    async fn put_subscriber(&self, subscriber: &Subscriber) -> Result<(), StoreError> {
        let (system, contact, doc) =
            (subscriber.system.as_str().to_string(), subscriber.contact_key(), encode(subscriber)?);
        self.write(move |tx| {
            let sql = "INSERT INTO subscribers (system, contact_key, doc) VALUES (?1, ?2, ?3) \
                       ON CONFLICT (system, contact_key) DO UPDATE SET doc = excluded.doc";
            tx.prepare_cached(sql)?.execute(params![system, contact, doc])?;
            Ok(())
        })
        .await
    }

    async fn subscribers(&self, system: &SystemId) -> Result<Vec<Subscriber>, StoreError> {
        let system = system.as_str().to_string();
        self.read(move |conn| {
            let sql = "SELECT doc FROM subscribers WHERE system = ?1 ORDER BY contact_key";
            docs(conn, "subscriber", sql, [system])
        })
        .await
    }

    async fn remove_subscriber(&self, system: &SystemId, contact_key: &str) -> Result<bool, StoreError> {
        let (system, contact) = (system.as_str().to_string(), contact_key.to_string());
        self.write(move |tx| {
            let sql = "DELETE FROM subscribers WHERE system = ?1 AND contact_key = ?2";
            Ok(tx.prepare_cached(sql)?.execute(params![system, contact])? > 0)
        })
        .await
    }
}
