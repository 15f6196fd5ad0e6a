//! The systems catalog on DynamoDB: a system is the `META` item of partition `SYS#<id>`, its subscribers are
//! the `SUB#<contact>` items of the same partition, and systems are listed through the `listing` index.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use flare_core::CatalogStore;
use flare_core::{StoreError, Subscriber, System, SystemId};

use crate::items::{self, Item};
use crate::keys;
use crate::schema::{LISTING, LISTING_PK, PK, SK};
use crate::store::DynamoStore;

impl DynamoStore {
    /// Writes an item whole, replacing any item with its key.
    pub(crate) async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    /// Every item of one `listing` partition, by `ls_sk`.
    pub(crate) async fn listing(&self, partition: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .query()
            .index_name(LISTING)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", LISTING_PK)
            .expression_attribute_values(":p", AttributeValue::S(partition.into()));
        Ok(self.query_all(query).await?.0)
    }
}

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn put_system(&self, system: &System) -> Result<(), StoreError> {
        self.put_item(items::system_item(system)?).await
    }

    async fn get_system(&self, id: &SystemId) -> Result<Option<System>, StoreError> {
        self.get_item(items::key(keys::system_pk(id), keys::META)).await?.map(|item| items::decode(&item)).transpose()
    }

    async fn list_systems(&self) -> Result<Vec<System>, StoreError> {
        self.listing(keys::SYSTEMS_LISTING).await?.iter().map(items::decode).collect()
    }

    async fn put_subscriber(&self, subscriber: &Subscriber) -> Result<(), StoreError> {
        self.put_item(items::subscriber_item(subscriber)?).await
    }

    async fn subscribers(&self, system: &SystemId) -> Result<Vec<Subscriber>, StoreError> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::system_pk(system)))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::SUBSCRIBER_PREFIX.into()));
        self.query_all(query).await?.0.iter().map(items::decode).collect()
    }

    async fn remove_subscriber(&self, system: &SystemId, contact_key: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::system_pk(system), keys::subscriber_sk(contact_key))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }
}
