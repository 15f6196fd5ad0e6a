//! [`AccessStore`] on SQLite: users by name, API keys by id and by the hash of their token.

use async_trait::async_trait;
use flare_core::{AccessStore, ApiKey, ApiKeyHash, StoreError, User, Username};
use rusqlite::params;
use time::OffsetDateTime;

use super::SqliteStore;
use super::codec::{doc, docs, encode, exists};

#[async_trait]
impl AccessStore for SqliteStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let (username, doc) = (user.username.as_str().to_string(), encode(user)?);
        self.write(move |tx| {
            let sql = "INSERT INTO users (username, doc) VALUES (?1, ?2) ON CONFLICT (username) DO NOTHING";
            match tx.prepare_cached(sql)?.execute(params![username, doc])? {
                0 => Err(StoreError::AlreadyExists { what: format!("user {username}") }.into()),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn get_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let username = username.as_str().to_string();
        self.read(move |conn| {
            doc(conn, format_args!("user {username}"), "SELECT doc FROM users WHERE username = ?1", [&username])
        })
        .await
    }

    async fn update_user(&self, user: &User) -> Result<bool, StoreError> {
        let (username, doc) = (user.username.as_str().to_string(), encode(user)?);
        self.write(move |tx| {
            let updated =
                tx.prepare_cached("UPDATE users SET doc = ?2 WHERE username = ?1")?.execute(params![username, doc])?;
            Ok(updated > 0)
        })
        .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let (id, hash, doc) = (key.id.clone(), key.hash.as_str().to_string(), encode(key)?);
        self.write(move |tx| {
            if exists(tx, "SELECT 1 FROM api_keys WHERE id = ?1 OR hash = ?2", params![id, hash])? {
                return Err(StoreError::AlreadyExists { what: format!("API key {id}") }.into());
            }
            tx.prepare_cached("INSERT INTO api_keys (id, hash, doc) VALUES (?1, ?2, ?3)")?
                .execute(params![id, hash, doc])?;
            Ok(())
        })
        .await
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash.as_str().to_string();
        self.read(move |conn| doc(conn, "API key", "SELECT doc FROM api_keys WHERE hash = ?1", [hash])).await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|conn| docs(conn, "API key", "SELECT doc FROM api_keys ORDER BY id", [])).await
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(move |tx| {
            let stored =
                doc::<ApiKey>(tx, format_args!("API key {id}"), "SELECT doc FROM api_keys WHERE id = ?1", [&id])?;
            let Some(mut key) = stored else {
                return Ok(false);
            };
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                tx.prepare_cached("UPDATE api_keys SET doc = ?2 WHERE id = ?1")?.execute(params![id, encode(&key)?])?;
            }
            Ok(true)
        })
        .await
    }
}
