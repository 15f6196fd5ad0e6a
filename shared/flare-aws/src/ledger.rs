//! The delivery ledger on DynamoDB: each delivery is a `DL#<seq>#<channel>#<batch>` item in its incident's
//! partition, so one consistent Query reads an event's or an incident's deliveries in the order the ledger
//! promises. Delivery items carry no index keys, and their prefix is not `EV#`: the dispatcher, which reads the
//! table's stream for timeline events, never mistakes one for an event.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::{Delivery, LedgerStore};
use flare_core::{StoreError, TicketNumber};

use crate::items;
use crate::keys;
use crate::schema::{PK, SK};
use crate::store::DynamoStore;

impl DynamoStore {
    /// Every delivery of an incident whose sort key starts with `prefix`, in sort-key order.
    async fn deliveries_from(&self, ticket: TicketNumber, prefix: String) -> Result<Vec<Delivery>, StoreError> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::incident_pk(ticket)))
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
}
