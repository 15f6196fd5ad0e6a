//! Reads: single gets, paginated queries and batched gets, each counting the read capacity it consumed so that
//! the window query can report its cost. Gets of one item are strongly consistent, so a caller reads its own
//! writes; index reads cannot be, and the window's batched gets need not be (see [`DynamoStore::batch_get`]).

use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{ConsumedCapacity, KeysAndAttributes, ReturnConsumedCapacity};
use flare_core::StoreError;
use flare_core::retry::Backoff;

use crate::error::AdapterError;
use crate::items::Item;
use crate::store::DynamoStore;

/// DynamoDB's limit on the keys of one BatchGetItem.
const BATCH_GET_MAX: usize = 100;
/// Attempts to get keys DynamoDB left unprocessed (throttling), on the shared retry schedule: a dashboard read
/// gives up within about two seconds rather than hold its caller.
const UNPROCESSED: Backoff =
    Backoff { max_attempts: 6, base: Duration::from_millis(20), max_delay: Duration::from_millis(500) };

/// Read capacity units consumed, summed over requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Capacity(pub(crate) f64);

impl Capacity {
    pub(crate) fn add(&mut self, consumed: Option<&ConsumedCapacity>) {
        self.0 += consumed.and_then(ConsumedCapacity::capacity_units).unwrap_or(0.0);
    }
}

impl std::ops::AddAssign for Capacity {
    fn add_assign(&mut self, other: Self) {
        self.0 += other.0;
    }
}

impl DynamoStore {
    /// One item by key, strongly consistent.
    pub(crate) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(out.item)
    }

    /// A query on this table that reports its consumed capacity.
    pub(crate) fn query(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.table).return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// Every item a query matches, following `LastEvaluatedKey` to the end.
    pub(crate) async fn query_all(&self, query: QueryFluentBuilder) -> Result<(Vec<Item>, Capacity), StoreError> {
        let mut pages = query.into_paginator().send();
        let (mut items, mut cost) = (Vec::new(), Capacity::default());
        while let Some(page) = pages.next().await {
            let page = page.map_err(StoreError::unavailable)?;
            cost.add(page.consumed_capacity());
            items.extend(page.items.unwrap_or_default());
        }
        Ok((items, cost))
    }

    /// The items with these keys that exist, in no particular order. Eventually consistent: the dashboard window
    /// is the only caller, and its other sources are index reads, which are never strongly consistent; a
    /// consistent read here would double its cost and promise nothing more.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<(Vec<Item>, Capacity), StoreError> {
        let (mut found, mut cost) = (Vec::new(), Capacity::default());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = chunk.to_vec();
            let mut waits = UNPROCESSED.delays();
            let mut first = true;
            while !pending.is_empty() {
                if !std::mem::take(&mut first) {
                    let Some(wait) = waits.next() else {
                        let error = AdapterError::Unprocessed(pending.len(), UNPROCESSED.max_attempts);
                        return Err(StoreError::unavailable(error));
                    };
                    tokio::time::sleep(wait).await;
                }
                let request =
                    KeysAndAttributes::builder().set_keys(Some(pending)).build().map_err(StoreError::unavailable)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(StoreError::unavailable)?;
                out.consumed_capacity().iter().for_each(|c| cost.add(Some(c)));
                found.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
                pending =
                    out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            }
        }
        Ok((found, cost))
    }
}
