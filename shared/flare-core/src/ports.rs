//! The ports: what Flare needs from storage and time. Adapters live in `flare-aws` (DynamoDB) and
//! `flare-embedded` (SQLite); one contract suite in the `tests` crate holds both to the same behaviour.
//!
//! The store is cut into traits by what they own (incidents and their timeline, the catalog, access, and the
//! delivery ledger in [`crate::ledger`], the poller's state in [`crate::poll`]) so that each reads on its own; [`Store`] is all five, which is what the
//! service, the dispatcher and the HTTP layer take.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::access::{ApiKey, ApiKeyHash, User, Username};
use crate::catalog::{Subscriber, System};
use crate::error::StoreError;
use crate::incident::{Incident, Source};
use crate::ledger::LedgerStore;
use crate::poll::PollStore;
use crate::timefmt::serde_rfc3339;
use crate::timeline::{RecordedEvent, TimelineEvent};
use crate::values::SystemId;
use crate::values::TicketNumber;
use crate::window::{Page, WindowQuery};

/// What a request with an idempotency key committed, kept so that a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// The client's key, prefixed with the principal, so two clients' keys never collide.
    pub key: String,
    /// A hash of the request, so that reusing a key for a different request is caught.
    pub fingerprint: String,
    pub ticket: TicketNumber,
    pub version: u64,
    #[serde(with = "serde_rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The result of a command: the incident's ticket and version after it, and whether this was a replay of an
/// earlier request with the same idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Committed {
    pub ticket: TicketNumber,
    pub version: u64,
    pub replayed: bool,
}

/// A new incident and its opening event, written together.
#[derive(Debug, Clone, Copy)]
pub struct NewIncident<'a> {
    pub incident: &'a Incident,
    pub event: &'a TimelineEvent,
    pub idempotency: Option<&'a IdempotencyKey>,
}

/// Incidents and their timelines.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Hands out the next ticket number. Numbers only grow and are never reused: one whose create then fails
    /// is skipped, so the sequence may have gaps but never duplicates.
    async fn next_ticket(&self) -> Result<TicketNumber, StoreError>;

    /// Writes a new incident, its opening event (with the incident beside it, for [`IncidentStore::event`]) and
    /// its idempotency record in one transaction.
    ///
    /// Fails with [`StoreError::IdempotencyKeyTaken`] when the key is already recorded (and not expired), and
    /// with [`StoreError::AlreadyExists`] when the incident's source external id is already taken. Either way
    /// nothing is written.
    async fn create(&self, new: NewIncident<'_>) -> Result<(), StoreError>;

    /// Replaces an incident with its next state and appends the event recording the change (with that state
    /// beside it, for [`IncidentStore::event`]), in one transaction, provided the stored version is still `incident.version - 1`. Otherwise fails with
    /// [`StoreError::Conflict`] naming the current version, or [`StoreError::IdempotencyKeyTaken`], and
    /// writes nothing.
    async fn save(
        &self,
        incident: &Incident,
        event: &TimelineEvent,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError>;

    /// The record of an idempotency key, unless it has expired.
    async fn idempotency(&self, key: &str, now: OffsetDateTime) -> Result<Option<IdempotencyKey>, StoreError>;

    async fn get(&self, ticket: TicketNumber) -> Result<Option<Incident>, StoreError>;

    /// One event of an incident, with the incident as that event left it: one GetItem or one `SELECT`, whatever
    /// the length of the timeline. `None` when there is no such event.
    async fn event(&self, ticket: TicketNumber, seq: u64) -> Result<Option<RecordedEvent>, StoreError>;

    /// Every event of an incident, oldest first.
    async fn timeline(&self, ticket: TicketNumber) -> Result<Vec<TimelineEvent>, StoreError>;

    /// One page of the incidents overlapping the query's window, newest start first.
    async fn list_window(&self, query: &WindowQuery) -> Result<Page<Incident>, StoreError>;

    /// Every incident not resolved, newest start first.
    async fn list_open(&self) -> Result<Vec<Incident>, StoreError>;

    /// The incident opened from this source row, if any.
    async fn find_by_external_id(&self, source: &Source) -> Result<Option<Incident>, StoreError>;
}

/// Systems and who subscribes to them.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Creates or replaces a system.
    async fn put_system(&self, system: &System) -> Result<(), StoreError>;
    async fn get_system(&self, id: &SystemId) -> Result<Option<System>, StoreError>;
    /// Every system, by id.
    async fn list_systems(&self) -> Result<Vec<System>, StoreError>;
    /// Creates or replaces a subscriber, keyed by system and contact (see [`Subscriber::contact_key`]).
    async fn put_subscriber(&self, subscriber: &Subscriber) -> Result<(), StoreError>;
    /// Every subscriber of one system, by contact key.
    async fn subscribers(&self, system: &SystemId) -> Result<Vec<Subscriber>, StoreError>;
    /// Removes a subscriber, keyed by system and contact. `false` when there was none: removing twice is fine.
    async fn remove_subscriber(&self, system: &SystemId, contact_key: &str) -> Result<bool, StoreError>;
}

/// People and API keys.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Fails with [`StoreError::AlreadyExists`] when the username is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    async fn get_user(&self, username: &Username) -> Result<Option<User>, StoreError>;
    /// Replaces an existing user, found by username. `false` when there is no such user; nothing is created.
    async fn update_user(&self, user: &User) -> Result<bool, StoreError>;
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError>;
    /// Every key, revoked ones included, by id.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// Marks a key revoked. `false` when there is no such key; revoking twice keeps the first time.
    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<bool, StoreError>;
}

/// Everything Flare stores.
pub trait Store: IncidentStore + CatalogStore + AccessStore + LedgerStore + PollStore {}

impl<T: IncidentStore + CatalogStore + AccessStore + LedgerStore + PollStore> Store for T {}

/// The time, injected so that tests control it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
