//! [`DynamoStore`]: the DynamoDB adapter of the incident store, over the single table of [`crate::schema`].
//!
//! This file owns incidents, their timelines (each event item carries the incident as that event left it), ticket numbers, idempotency records and external-id claims. The
//! window and open listings are in [`crate::window`], the catalog in [`crate::catalog`], access in
//! [`crate::access`], the delivery ledger in [`crate::ledger`]. Every read is a GetItem, BatchGetItem or Query, never a Scan.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure};
use flare_core::{IdempotencyKey, IncidentStore, NewIncident};
use flare_core::{Incident, Page, RecordedEvent, Source, StoreError, TicketNumber, TimelineEvent, WindowQuery};
use time::OffsetDateTime;

use crate::items::{self, Item};
use crate::keys;
use crate::markers;
use crate::schema::{PK, SK};
use crate::txn::{Outcome, Refused, Role, Transaction};

/// Flare's store on DynamoDB: one table, named at construction.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

/// Conditions, with `#pk`/`#sk`/`#v`/`#x` standing for attribute names so that no reserved word can bite.
const ITEM_IS_NEW: &str = "attribute_not_exists(#pk)";
const VERSION_IS: &str = "#v = :expected";
const KEY_IS_FREE: &str = "attribute_not_exists(#pk) OR #x <= :now";

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A put of `item` into this table, without a condition.
    pub(crate) fn put(&self, item: Item) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(item))
    }

    fn put_if_new(&self, item: Item) -> Result<Put, StoreError> {
        self.put(item)
            .condition_expression(ITEM_IS_NEW)
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(StoreError::unavailable)
    }

    /// An idempotency record may be written when its key is free: never used, or expired at the time of the
    /// command (the event's time, which comes from the service's clock). TTL deletes expired records late, so
    /// expiry is checked here rather than trusted to have happened.
    fn put_idempotency(&self, record: &IdempotencyKey, now: OffsetDateTime) -> Result<Put, StoreError> {
        self.put(items::idempotency_item(record)?)
            .condition_expression(KEY_IS_FREE)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#x", items::EXPIRES_US)
            .expression_attribute_values(":now", AttributeValue::N(items::micros(now).to_string()))
            .build()
            .map_err(StoreError::unavailable)
    }

    fn delete(&self, key: Item) -> Result<Delete, StoreError> {
        Delete::builder().table_name(&self.table).set_key(Some(key)).build().map_err(StoreError::unavailable)
    }

    /// The stored incident item, strongly consistent.
    async fn incident_item(&self, ticket: TicketNumber) -> Result<Option<Item>, StoreError> {
        self.get_item(items::incident_key(ticket)).await
    }

    /// How a refused save reads: someone else's change, or no such incident.
    async fn save_refusal(&self, ticket: TicketNumber, refused: &Refused) -> StoreError {
        if refused.failed(Role::Idempotency) {
            return StoreError::IdempotencyKeyTaken;
        }
        let current = match refused.old_item(Role::Incident) {
            Some(item) => Some(item.clone()),
            None => match self.incident_item(ticket).await {
                Ok(item) => item,
                Err(e) => return e,
            },
        };
        match current {
            None => StoreError::NotFound(ticket),
            Some(item) => match items::number(&item, items::VERSION) {
                Ok(current) => StoreError::Conflict { ticket, current },
                Err(e) => e,
            },
        }
    }
}

fn external_taken(source: &Source) -> StoreError {
    let id = source.external_id.as_ref().map_or("", |id| id.as_str());
    StoreError::AlreadyExists { what: format!("an incident from {} row {id}", source.channel) }
}

#[async_trait]
impl IncidentStore for DynamoStore {
    async fn next_ticket(&self) -> Result<TicketNumber, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::COUNTER_PK, keys::COUNTER_SK)))
            .update_expression("ADD #n :one")
            .expression_attribute_names("#n", items::COUNT)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        items::ticket(&out.attributes.unwrap_or_default(), items::COUNT)
    }

    async fn create(&self, new: NewIncident<'_>) -> Result<(), StoreError> {
        let incident = new.incident;
        let mut txn = Transaction::default();
        txn.put(Role::Incident, self.put_if_new(items::incident_item(incident)?)?);
        txn.put(Role::Event, self.put_if_new(items::event_item(new.event, incident)?)?);
        if let Some(record) = new.idempotency {
            txn.put(Role::Idempotency, self.put_idempotency(record, new.event.at)?);
        }
        if let Some(claim) = items::external_item(&incident.source, incident.ticket) {
            txn.put(Role::External, self.put_if_new(claim)?);
        }
        for block in markers::markers(incident) {
            let marker =
                self.put(items::marker_item(block, incident.ticket)).build().map_err(StoreError::unavailable)?;
            txn.put(Role::Marker, marker);
        }
        match crate::txn::commit(&self.client, txn).await? {
            Outcome::Committed => Ok(()),
            Outcome::Refused(r) if r.failed(Role::Idempotency) => Err(StoreError::IdempotencyKeyTaken),
            Outcome::Refused(r) if r.failed(Role::External) => Err(external_taken(&incident.source)),
            Outcome::Refused(_) => Err(StoreError::AlreadyExists { what: incident.ticket.to_string() }),
        }
    }

    async fn save(
        &self,
        incident: &Incident,
        event: &TimelineEvent,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError> {
        let ticket = incident.ticket;
        // The stored state tells which activity markers to drop. The version condition below guarantees it is
        // still the stored state when the transaction commits.
        let stored_item = self.incident_item(ticket).await?.ok_or(StoreError::NotFound(ticket))?;
        let stored: Incident = items::decode(&stored_item)?;
        let expected = match incident.version.checked_sub(1) {
            Some(expected) if expected == stored.version => expected,
            _ => return Err(StoreError::Conflict { ticket, current: stored.version }),
        };

        let mut txn = Transaction::default();
        let put_incident = self
            .put(items::incident_item(incident)?)
            .condition_expression(VERSION_IS)
            .expression_attribute_names("#v", items::VERSION)
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::unavailable)?;
        txn.put(Role::Incident, put_incident);
        txn.put(Role::Event, self.put_if_new(items::event_item(event, incident)?)?);
        if let Some(record) = idempotency {
            txn.put(Role::Idempotency, self.put_idempotency(record, event.at)?);
        }
        let (before, after) = (markers::markers(&stored), markers::markers(incident));
        for &block in before.difference(&after) {
            txn.delete(Role::Marker, self.delete(items::marker_key(block, ticket))?);
        }
        for &block in after.difference(&before) {
            let marker = self.put(items::marker_item(block, ticket)).build().map_err(StoreError::unavailable)?;
            txn.put(Role::Marker, marker);
        }
        match crate::txn::commit(&self.client, txn).await? {
            Outcome::Committed => Ok(()),
            Outcome::Refused(refused) => Err(self.save_refusal(ticket, &refused).await),
        }
    }

    async fn idempotency(&self, key: &str, now: OffsetDateTime) -> Result<Option<IdempotencyKey>, StoreError> {
        let Some(item) = self.get_item(items::idempotency_key(key)).await? else {
            return Ok(None);
        };
        let record: IdempotencyKey = items::decode(&item)?;
        Ok((record.expires_at > now).then_some(record))
    }

    async fn get(&self, ticket: TicketNumber) -> Result<Option<Incident>, StoreError> {
        self.incident_item(ticket).await?.map(|item| items::decode(&item)).transpose()
    }

    async fn event(&self, ticket: TicketNumber, seq: u64) -> Result<Option<RecordedEvent>, StoreError> {
        self.get_item(items::event_key(ticket, seq)).await?.map(|item| items::recorded_event(&item)).transpose()
    }

    async fn timeline(&self, ticket: TicketNumber) -> Result<Vec<TimelineEvent>, StoreError> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::incident_pk(ticket)))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::EVENT_PREFIX.into()));
        let (events, _) = self.query_all(query).await?;
        events.iter().map(items::decode).collect()
    }

    async fn list_window(&self, query: &WindowQuery) -> Result<Page<Incident>, StoreError> {
        Ok(self.list_window_with_cost(query).await?.0)
    }

    async fn list_open(&self) -> Result<Vec<Incident>, StoreError> {
        self.open_incidents().await
    }

    async fn find_by_external_id(&self, source: &Source) -> Result<Option<Incident>, StoreError> {
        let Some(key) = items::external_key(source) else {
            return Ok(None);
        };
        let Some(claim) = self.get_item(key).await? else {
            return Ok(None);
        };
        self.get(items::ticket(&claim, items::TICKET)?).await
    }
}
