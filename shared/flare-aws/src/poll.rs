//! The poller's state on DynamoDB: source states in one `POLL` partition (listing every source is one Query),
//! each handled sheet row as a GetItem-able marker in its source's partition, bad rows in a partition of their
//! own sorted by row number, and each probe's checks in a fixed ring of slots so the partition never grows.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use flare_core::StoreError;
use flare_core::poll::{BadRow, CHECKS_KEPT, PollStore, ProbeCheck, SourceState};

use crate::items::{self, Item};
use crate::keys;
use crate::schema::{PK, SK};
use crate::store::DynamoStore;

impl DynamoStore {
    /// Every item of a partition, in sort-key order, strongly consistent.
    async fn partition(&self, pk: String, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .query()
            .consistent_read(true)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(pk));
        query = match prefix {
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.into())),
            None => query.key_condition_expression("#pk = :pk"),
        };
        Ok(self.query_all(query).await?.0)
    }
}

#[async_trait]
impl PollStore for DynamoStore {
    async fn poll_sources(&self) -> Result<Vec<SourceState>, StoreError> {
        let items = self.partition(keys::POLL_SOURCES_PK.into(), Some(keys::POLL_SOURCE_PREFIX)).await?;
        items.iter().map(items::decode).collect()
    }

    async fn poll_source(&self, source: &str) -> Result<Option<SourceState>, StoreError> {
        let key = items::key(keys::POLL_SOURCES_PK, keys::poll_source_sk(source));
        self.get_item(key).await?.as_ref().map(items::decode).transpose()
    }

    async fn put_poll_source(&self, state: &SourceState) -> Result<(), StoreError> {
        self.put_item(items::with_doc(keys::POLL_SOURCES_PK, keys::poll_source_sk(&state.source), state)?).await
    }

    async fn row_handled(&self, source: &str, key: &str) -> Result<bool, StoreError> {
        Ok(self.get_item(items::key(keys::poll_row_pk(source), key)).await?.is_some())
    }

    async fn mark_row(&self, source: &str, key: &str, bad: Option<&BadRow>) -> Result<(), StoreError> {
        // The bad-row record first: a crash before the marker only means the row is looked at again, and its
        // record rewritten under the same key.
        if let Some(bad) = bad {
            self.put_item(items::with_doc(keys::poll_bad_pk(source), keys::poll_bad_sk(bad.row, key), bad)?).await?;
        }
        match self.put_new(items::key(keys::poll_row_pk(source), key), || format!("row {key} of {source}")).await {
            // Marked before: the first marking stands.
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn bad_rows(&self, source: &str) -> Result<Vec<BadRow>, StoreError> {
        self.partition(keys::poll_bad_pk(source), None).await?.iter().map(items::decode).collect()
    }

    async fn record_check(&self, check: &ProbeCheck) -> Result<(), StoreError> {
        let item = items::with_doc(keys::poll_checks_pk(&check.source), keys::poll_check_sk(check.seq), check)?;
        self.put_item(item).await
    }

    async fn checks(&self, source: &str, limit: usize) -> Result<Vec<ProbeCheck>, StoreError> {
        // The ring holds at most CHECKS_KEPT items: reading it whole and ordering here costs the same as a
        // bounded Query would.
        let items = self.partition(keys::poll_checks_pk(source), None).await?;
        let mut checks: Vec<ProbeCheck> = items.iter().map(items::decode).collect::<Result<_, _>>()?;
        checks.sort_by_key(|c| std::cmp::Reverse(c.seq));
        checks.truncate(limit.min(CHECKS_KEPT as usize));
        Ok(checks)
    }
}
