//! The delivery ledger on DynamoDB: each delivery is a `DL#<seq>#<channel>#<batch>` item in its incident's
//! partition, so one consistent Query reads an event's or an incident's deliveries in the order the ledger
//! promises. Delivery items carry no index keys, and their prefix is not `EV#`: the dispatcher, which reads the
//! table's stream for timeline events, never mistakes one for an event. A weekly digest's batches are
//! `DL#<batch>` items in their week's `DIGEST#<monday>` partition.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::{Delivery, DigestDelivery, LedgerStore};
use flare_core::{StoreError, TicketNumber};
use time::OffsetDateTime;

use crate::items;
use crate::keys;
use crate::schema::{PK, SK};
use crate::store::DynamoStore;

impl DynamoStore {
    /// Every delivery of an incident whose sort key starts with `prefix`, in sort-key order.
    async fn deliveries_from(&self, ticket: TicketNumber, prefix: String) -> Result<Vec<Delivery>, StoreError> {
        self.delivery_items(keys::incident_pk(ticket), prefix).await
    }

    /// Every item of partition `pk` whose sort key starts with `prefix`, decoded, in sort-key order.
    async fn delivery_items<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        prefix: String,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix));
        self.query_all(query).await?.0.iter().map(items::decode).collect()
    }
}

#[async_trait]
impl LedgerStore for DynamoStore {
    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let what = || {
            let Delivery { ticket, seq, channel, batch, .. } = delivery;
            format!("delivery {ticket} event {seq} {channel} batch {batch}")
        };
        self.put_new(items::delivery_item(delivery)?, what).await
    }

    async fn event_deliveries(&self, ticket: TicketNumber, seq: u64) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_from(ticket, keys::event_deliveries_prefix(seq)).await
    }

    async fn deliveries(&self, ticket: TicketNumber) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_from(ticket, keys::DELIVERY_PREFIX.into()).await
    }

    async fn record_digest(&self, delivery: &DigestDelivery) -> Result<(), StoreError> {
        let what = || format!("digest of the week of {} batch {}", delivery.week.date(), delivery.batch);
        self.put_new(items::digest_delivery_item(delivery)?, what).await
    }

    async fn digest_deliveries(&self, week: OffsetDateTime) -> Result<Vec<DigestDelivery>, StoreError> {
        self.delivery_items(keys::digest_pk(week), keys::DELIVERY_PREFIX.into()).await
    }
}
