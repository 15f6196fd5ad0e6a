//! The incident service: the one path by which commands reach the store, for every entry point (form, API,
//! poller, CLI). It applies idempotency keys, optimistic concurrency and the command rules in [`crate::command`].

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::access::Actor;
use crate::command::{Command, OpenIncident};
use crate::error::{DomainError, FieldError, StoreError, ValidationErrors};
use crate::limits;
use crate::ports::{Clock, Committed, IdempotencyKey, NewIncident, Store};

/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::hours(24);
/// How often a command without an expected version is retried when another writer got there first.
const CONFLICT_RETRIES: usize = 5;

#[derive(Debug, Clone)]
pub struct IncidentService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl IncidentService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Opens an incident. With an idempotency key, a repeat of the same request answers as the first did and
    /// opens nothing; the same key with a different request is refused.
    pub async fn open(
        &self,
        command: OpenIncident,
        actor: &Actor,
        idempotency_key: Option<&str>,
    ) -> Result<Committed, DomainError> {
        let now = self.clock.now();
        let key = self.idempotency_key(idempotency_key, actor, &command)?;
        if let Some(done) = self.replay(key.as_ref(), now).await? {
            return Ok(done);
        }
        command.validate(now)?;
        let ticket = self.store.next_ticket().await?;
        let (incident, event) = command.apply(ticket, actor, now)?;
        let record = key.map(|(key, fingerprint)| IdempotencyKey {
            key,
            fingerprint,
            ticket,
            version: incident.version,
            expires_at: now + IDEMPOTENCY_TTL,
        });
        let new = NewIncident { incident: &incident, event: &event, idempotency: record.as_ref() };
        match self.store.create(new).await {
            Ok(()) => Ok(Committed { ticket, version: incident.version, replayed: false }),
            Err(StoreError::IdempotencyKeyTaken) => self.replay_raced(record.as_ref(), now).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Applies a command to an existing incident. Without an expected version, a concurrent change is merged
    /// by re-reading and re-applying; with one, a concurrent change is a [`DomainError::Conflict`].
    pub async fn execute(
        &self,
        command: Command,
        actor: &Actor,
        idempotency_key: Option<&str>,
    ) -> Result<Committed, DomainError> {
        let key = self.idempotency_key(idempotency_key, actor, &command.without_expected_version())?;
        let ticket = command.ticket();
        let mut attempts = 0;
        loop {
            let now = self.clock.now();
            if let Some(done) = self.replay(key.as_ref(), now).await? {
                return Ok(done);
            }
            let current = self.store.get(ticket).await?.ok_or(DomainError::NotFound(ticket))?;
            let (next, event) = command.clone().apply(&current, actor, now)?;
            let record = key.clone().map(|(key, fingerprint)| IdempotencyKey {
                key,
                fingerprint,
                ticket,
                version: next.version,
                expires_at: now + IDEMPOTENCY_TTL,
            });
            match self.store.save(&next, &event, record.as_ref()).await {
                Ok(()) => {
                    return Ok(Committed { ticket, version: next.version, replayed: false });
                }
                Err(StoreError::IdempotencyKeyTaken) => {
                    return self.replay_raced(record.as_ref(), now).await;
                }
                Err(StoreError::Conflict { .. })
                    if command.expected_version().is_none() && attempts < CONFLICT_RETRIES =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The scoped key and the request's fingerprint, when the caller gave a key.
    fn idempotency_key(
        &self,
        raw: Option<&str>,
        actor: &Actor,
        request: &impl Serialize,
    ) -> Result<Option<(String, String)>, ValidationErrors> {
        let Some(raw) = raw.map(str::trim) else {
            return Ok(None);
        };
        let printable = raw.chars().all(|c| c.is_ascii_graphic());
        if raw.is_empty() || raw.len() > limits::IDEMPOTENCY_KEY_MAX || !printable {
            let reason = format!("must be 1 to {} printable ASCII characters", limits::IDEMPOTENCY_KEY_MAX);
            return Err(FieldError::new("Idempotency-Key", reason).into());
        }
        let body = serde_json::to_vec(request).unwrap_or_default();
        let fingerprint = hex::encode(Sha256::digest(&body));
        Ok(Some((format!("{actor}:{raw}"), fingerprint)))
    }

    /// The earlier answer for this key, if the key was used before; refuses a key reused for another request.
    async fn replay(
        &self,
        key: Option<&(String, String)>,
        now: time::OffsetDateTime,
    ) -> Result<Option<Committed>, DomainError> {
        let Some((key, fingerprint)) = key else {
            return Ok(None);
        };
        match self.store.idempotency(key, now).await? {
            None => Ok(None),
            Some(r) if &r.fingerprint == fingerprint => {
                Ok(Some(Committed { ticket: r.ticket, version: r.version, replayed: true }))
            }
            Some(_) => Err(DomainError::IdempotencyMismatch),
        }
    }

    /// A concurrent request with the same key committed first: answer as it did.
    async fn replay_raced(
        &self,
        record: Option<&IdempotencyKey>,
        now: time::OffsetDateTime,
    ) -> Result<Committed, DomainError> {
        let key = record.map(|r| (r.key.clone(), r.fingerprint.clone()));
        self.replay(key.as_ref(), now).await?.ok_or(DomainError::Store(StoreError::IdempotencyKeyTaken))
    }
}
