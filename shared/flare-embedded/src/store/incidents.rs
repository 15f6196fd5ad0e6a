//! [`IncidentStore`] on SQLite: ticket numbers, incidents with their systems and timeline, and idempotency
//! records.
//!
//! `create` and `save` each write the incident row, its `incident_systems` rows, one timeline event (with the
//! incident's document beside it, for [`IncidentStore::event`]), its row in the dispatch queue ([`super::queue`]) and the idempotency record in one transaction. The outcomes a caller handles (a taken key, a taken external id, a
//! stale version) are found by reading inside that transaction before writing, never by parsing SQLite's error
//! messages; any constraint that still fires is a bug and surfaces as `Unavailable`.
//!
//! The store has no clock: "now" for an idempotency key's expiry is the time of the event being written, which
//! the service took from its injected clock.

use async_trait::async_trait;
use flare_core::timefmt::sortable;
use flare_core::{
    IdempotencyKey, Incident, IncidentStore, NewIncident, Page, RecordedEvent, Source, StoreError, TicketNumber,
    TimelineEvent, WindowQuery,
};
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::codec::{decode, doc, docs, encode, exists, int, ticket, uint};
use super::{Failure, SqliteStore, queue, window};

/// The columns of an incident row, and the systems it affects.
struct IncidentRow {
    ticket: i64,
    version: i64,
    status: &'static str,
    severity: &'static str,
    started_at: String,
    resolved_at: Option<String>,
    channel: &'static str,
    external_id: Option<String>,
    systems: Vec<String>,
    doc: String,
}

impl IncidentRow {
    fn new(i: &Incident) -> Result<Self, StoreError> {
        Ok(Self {
            ticket: int(i.ticket.number())?,
            version: int(i.version)?,
            status: i.status.as_str(),
            severity: i.severity.as_str(),
            started_at: sortable(i.started_at),
            resolved_at: i.resolved_at.map(sortable),
            channel: i.source.channel.as_str(),
            external_id: i.source.external_id.as_ref().map(|e| e.as_str().to_string()),
            systems: i.systems.iter().map(|s| s.system.as_str().to_string()).collect(),
            doc: encode(i)?,
        })
    }

    /// Refuses an external id that another incident already came from.
    fn check_external_id_free(&self, conn: &Connection) -> Result<(), Failure> {
        let Some(external_id) = &self.external_id else {
            return Ok(());
        };
        let sql = "SELECT ticket FROM incidents WHERE channel = ?1 AND external_id = ?2 AND ticket <> ?3";
        let other: Option<i64> = conn
            .prepare_cached(sql)?
            .query_row(params![self.channel, external_id, self.ticket], |row| row.get(0))
            .optional()?;
        match other {
            None => Ok(()),
            Some(other) => {
                let what = format!("an incident ({}) from {} row {external_id}", ticket(other)?, self.channel);
                Err(StoreError::AlreadyExists { what }.into())
            }
        }
    }

    fn insert(&self, conn: &Connection) -> Result<(), Failure> {
        conn.prepare_cached(
            "INSERT INTO incidents \
             (ticket, version, status, severity, started_at, resolved_at, channel, external_id, doc) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            self.ticket,
            self.version,
            self.status,
            self.severity,
            self.started_at,
            self.resolved_at,
            self.channel,
            self.external_id,
            self.doc,
        ])?;
        self.insert_systems(conn)
    }

    fn update(&self, conn: &Connection) -> Result<(), Failure> {
        conn.prepare_cached(
            "UPDATE incidents SET version = ?2, status = ?3, severity = ?4, started_at = ?5, resolved_at = ?6, \
             channel = ?7, external_id = ?8, doc = ?9 WHERE ticket = ?1",
        )?
        .execute(params![
            self.ticket,
            self.version,
            self.status,
            self.severity,
            self.started_at,
            self.resolved_at,
            self.channel,
            self.external_id,
            self.doc,
        ])?;
        conn.prepare_cached("DELETE FROM incident_systems WHERE ticket = ?1")?.execute([self.ticket])?;
        self.insert_systems(conn)
    }

    fn insert_systems(&self, conn: &Connection) -> Result<(), Failure> {
        let mut stmt = conn.prepare_cached("INSERT INTO incident_systems (ticket, system) VALUES (?1, ?2)")?;
        for system in &self.systems {
            stmt.execute(params![self.ticket, system])?;
        }
        Ok(())
    }
}

/// A timeline row: the event, and the incident as the event left it.
struct EventRow {
    ticket: i64,
    seq: i64,
    doc: String,
    incident: String,
}

impl EventRow {
    fn new(e: &TimelineEvent, incident: &IncidentRow) -> Result<Self, StoreError> {
        Ok(Self { ticket: int(e.ticket.number())?, seq: int(e.seq)?, doc: encode(e)?, incident: incident.doc.clone() })
    }

    /// Appends the event to the timeline and queues it for dispatch, due at once (`now`, the event's time).
    fn insert(&self, conn: &Connection, now: &str) -> Result<(), Failure> {
        conn.prepare_cached("INSERT INTO timeline (ticket, seq, doc, incident) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![self.ticket, self.seq, self.doc, self.incident])?;
        queue::enqueue(conn, self.ticket, self.seq, now)
    }
}

/// One timeline row, decoded.
fn recorded_event(conn: &Connection, number: TicketNumber, n: i64, seq: i64) -> Result<Option<RecordedEvent>, Failure> {
    let sql = "SELECT doc, incident FROM timeline WHERE ticket = ?1 AND seq = ?2";
    let row: Option<(String, Option<String>)> =
        conn.prepare_cached(sql)?.query_row([n, seq], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let Some((event, incident)) = row else {
        return Ok(None);
    };
    let what = format_args!("event {seq} of {number}");
    let event = decode(what, &event)?;
    let incident =
        incident.map(|doc| decode(format_args!("the incident at event {seq} of {number}"), &doc)).transpose()?;
    Ok(Some(RecordedEvent { event, incident }))
}

struct KeyRow {
    key: String,
    expires_at: String,
    doc: String,
}

impl KeyRow {
    fn new(k: &IdempotencyKey) -> Result<Self, StoreError> {
        Ok(Self { key: k.key.clone(), expires_at: sortable(k.expires_at), doc: encode(k)? })
    }

    /// Records the key, replacing a record that expired by `now`; refuses one that has not.
    fn claim(&self, conn: &Connection, now: &str) -> Result<(), Failure> {
        let claimed = conn
            .prepare_cached(
                "INSERT INTO idempotency (key, doc, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, expires_at = excluded.expires_at \
                 WHERE idempotency.expires_at <= ?4",
            )?
            .execute(params![self.key, self.doc, self.expires_at, now])?;
        if claimed == 0 { Err(StoreError::IdempotencyKeyTaken.into()) } else { Ok(()) }
    }
}

/// Every incident not resolved, newest start first: the `incidents_open` partial index, in order.
pub(super) const LIST_OPEN: &str =
    "SELECT doc FROM incidents WHERE status <> 'resolved' ORDER BY started_at DESC, ticket DESC";

/// Applies a new incident: nothing is written unless all of it is.
fn create(
    conn: &Connection,
    row: &IncidentRow,
    event: &EventRow,
    key: Option<&KeyRow>,
    now: &str,
    number: TicketNumber,
) -> Result<(), Failure> {
    if let Some(key) = key {
        key.claim(conn, now)?;
    }
    if exists(conn, "SELECT 1 FROM incidents WHERE ticket = ?1", [row.ticket])? {
        return Err(StoreError::AlreadyExists { what: format!("incident {number}") }.into());
    }
    row.check_external_id_free(conn)?;
    row.insert(conn)?;
    event.insert(conn, now)?;
    // A ticket number that did not come from `next_ticket` (an import, say) must never be handed out later.
    conn.prepare_cached("UPDATE ticket_counter SET last = max(last, ?1) WHERE id = 1")?.execute([row.ticket])?;
    Ok(())
}

/// Applies the next state of an incident, provided the stored one is the state it was made from.
fn save(
    conn: &Connection,
    row: &IncidentRow,
    event: &EventRow,
    key: Option<&KeyRow>,
    now: &str,
    number: TicketNumber,
) -> Result<(), Failure> {
    // The key first: a retry of a request that already committed must be told so, not that it conflicts.
    if let Some(key) = key {
        key.claim(conn, now)?;
    }
    let stored: Option<i64> = conn
        .prepare_cached("SELECT version FROM incidents WHERE ticket = ?1")?
        .query_row([row.ticket], |r| r.get(0))
        .optional()?;
    let current = uint(format_args!("version of {number}"), stored.ok_or(StoreError::NotFound(number))?)?;
    if row.version.checked_sub(1) != Some(int(current)?) {
        return Err(StoreError::Conflict { ticket: number, current }.into());
    }
    row.check_external_id_free(conn)?;
    row.update(conn)?;
    event.insert(conn, now)?;
    Ok(())
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn next_ticket(&self) -> Result<TicketNumber, StoreError> {
        let n = self
            .write(|tx| {
                let sql = "UPDATE ticket_counter SET last = last + 1 WHERE id = 1 RETURNING last";
                Ok(tx.prepare_cached(sql)?.query_row([], |row| row.get(0))?)
            })
            .await?;
        Ok(ticket(n)?)
    }

    async fn create(&self, new: NewIncident<'_>) -> Result<(), StoreError> {
        let number = new.incident.ticket;
        let row = IncidentRow::new(new.incident)?;
        let event = EventRow::new(new.event, &row)?;
        let key = new.idempotency.map(KeyRow::new).transpose()?;
        let now = sortable(new.event.at);
        self.write(move |tx| create(tx, &row, &event, key.as_ref(), &now, number)).await
    }

    async fn save(
        &self,
        incident: &Incident,
        event: &TimelineEvent,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError> {
        let number = incident.ticket;
        let row = IncidentRow::new(incident)?;
        let event_row = EventRow::new(event, &row)?;
        let key = idempotency.map(KeyRow::new).transpose()?;
        let now = sortable(event.at);
        self.write(move |tx| save(tx, &row, &event_row, key.as_ref(), &now, number)).await
    }

    async fn idempotency(&self, key: &str, now: OffsetDateTime) -> Result<Option<IdempotencyKey>, StoreError> {
        let key = key.to_string();
        let now = sortable(now);
        self.read(move |conn| {
            let sql = "SELECT doc FROM idempotency WHERE key = ?1 AND expires_at > ?2";
            doc(conn, "idempotency record", sql, params![key, now])
        })
        .await
    }

    async fn get(&self, number: TicketNumber) -> Result<Option<Incident>, StoreError> {
        let n = int(number.number())?;
        self.read(move |conn| {
            doc(conn, format_args!("incident {number}"), "SELECT doc FROM incidents WHERE ticket = ?1", [n])
        })
        .await
    }

    async fn event(&self, number: TicketNumber, seq: u64) -> Result<Option<RecordedEvent>, StoreError> {
        let (n, s) = (int(number.number())?, int(seq)?);
        self.read(move |conn| recorded_event(conn, number, n, s)).await
    }

    async fn timeline(&self, number: TicketNumber) -> Result<Vec<TimelineEvent>, StoreError> {
        let n = int(number.number())?;
        self.read(move |conn| {
            docs(conn, "timeline event", "SELECT doc FROM timeline WHERE ticket = ?1 ORDER BY seq", [n])
        })
        .await
    }

    async fn list_window(&self, query: &WindowQuery) -> Result<Page<Incident>, StoreError> {
        let query = query.clone();
        self.read(move |conn| window::list(conn, &query)).await
    }

    async fn list_open(&self) -> Result<Vec<Incident>, StoreError> {
        self.read(|conn| docs(conn, "incident", LIST_OPEN, [])).await
    }

    async fn find_by_external_id(&self, source: &Source) -> Result<Option<Incident>, StoreError> {
        let Some(external_id) = &source.external_id else {
            return Ok(None);
        };
        let (channel, external_id) = (source.channel.as_str(), external_id.as_str().to_string());
        self.read(move |conn| {
            let sql = "SELECT doc FROM incidents WHERE channel = ?1 AND external_id = ?2";
            doc(conn, "incident", sql, params![channel, external_id])
        })
        .await
    }
}
