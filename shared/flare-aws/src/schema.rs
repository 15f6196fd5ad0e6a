//! The one definition of Flare's DynamoDB table: keys, indexes, stream, TTL and billing.
//!
//! [`table_definition`] is plain data, so a test can hold the SAM template (`infra/template.yaml`) to it;
//! [`create_table`] builds the same table for tests, the benchmark and development against DynamoDB Local.
//!
//! | item | `pk` | `sk` | index keys |
//! |---|---|---|---|
//! | incident | `INC#<n>` | `META` | `gs_pk`/`gs_sk` (`by_start`), `op_pk`/`op_sk` (`open`, only while open) |
//! | timeline event | `INC#<n>` | `EV#<seq:010>` | |
//! | delivery (ledger) | `INC#<n>` | `DL#<seq:010>#<channel>#<batch:06>` | |
//! | activity marker | `ACT#L<level>#<block>` | `<ticket:020>` | |
//! | ticket counter | `COUNTER` | `TICKET` | |
//! | idempotency record | `IDEM#<key>` | `IDEM` | (TTL `expires_at`) |
//! | external-id claim | `EXT#<channel>#<id>` | `EXT` | |
//! | system / subscriber | `SYS#<id>` | `META` / `SUB#<contact>` | `ls_pk = SYSTEMS`, `ls_sk = id` (system) |
//! | user | `USER#<name>` | `META` | |
//! | API key | `KEY#<sha256>` | `META` | `ls_pk = APIKEYS`, `ls_sk = id` |
//! | poll source state | `POLL` | `SRC#<source>` | |
//! | sheet row handled | `POLLROW#<source>` | `<row key>` | |
//! | bad sheet row | `POLLBAD#<source>` | `<row:010>#<row key>` | |
//! | probe check (a ring of 200 slots) | `POLLCHK#<source>` | `<seq mod 200:05>` | |

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification,
};

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
pub(crate) const BY_START: &str = "by_start";
pub(crate) const BY_START_PK: &str = "gs_pk";
pub(crate) const BY_START_SK: &str = "gs_sk";
pub(crate) const OPEN: &str = "open";
pub(crate) const OPEN_PK: &str = "op_pk";
pub(crate) const OPEN_SK: &str = "op_sk";
pub(crate) const LISTING: &str = "listing";
pub(crate) const LISTING_PK: &str = "ls_pk";
pub(crate) const LISTING_SK: &str = "ls_sk";
/// Epoch seconds; set only on idempotency records.
pub(crate) const TTL_ATTRIBUTE: &str = "expires_at";

/// How long [`create_table`] waits for the table and its indexes to become active.
const ACTIVE_DEADLINE: Duration = Duration::from_secs(120);
const ACTIVE_POLL: Duration = Duration::from_millis(100);

/// The table as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    /// Every attribute used as a key by the table or an index, with its type (`S`).
    pub attributes: Vec<(&'static str, &'static str)>,
    pub indexes: Vec<IndexDefinition>,
    /// `PAY_PER_REQUEST`.
    pub billing_mode: &'static str,
    /// `KEYS_ONLY`: the stream tells the dispatcher which event is new; it reads that event by key.
    pub stream_view_type: &'static str,
    pub ttl_attribute: &'static str,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    /// `ALL`: every index is read for whole items.
    pub projection: &'static str,
}

pub fn table_definition() -> TableDefinition {
    let index = |name, partition_key, sort_key| IndexDefinition { name, partition_key, sort_key, projection: "ALL" };
    TableDefinition {
        partition_key: PK,
        sort_key: SK,
        attributes: [PK, SK, BY_START_PK, BY_START_SK, OPEN_PK, OPEN_SK, LISTING_PK, LISTING_SK]
            .into_iter()
            .map(|name| (name, "S"))
            .collect(),
        indexes: vec![
            // Incidents by month of start, newest first within a month: the window's recent starts.
            index(BY_START, BY_START_PK, BY_START_SK),
            // Sparse: only incidents not yet resolved carry `op_pk`.
            index(OPEN, OPEN_PK, OPEN_SK),
            // Small catalogs listed whole: systems and API keys.
            index(LISTING, LISTING_PK, LISTING_SK),
        ],
        billing_mode: "PAY_PER_REQUEST",
        stream_view_type: "KEYS_ONLY",
        ttl_attribute: TTL_ATTRIBUTE,
    }
}

/// Why the table could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("DynamoDB refused to {action} table {table}")]
    Request {
        action: &'static str,
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("table {table} was not active after {waited:?}")]
    NotActive { table: String, waited: Duration },
}

/// Creates the table, waits until it and its indexes are active, then turns on TTL.
pub async fn create_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    let def = table_definition();
    let key = |attr: &str, kind| KeySchemaElement::builder().attribute_name(attr).key_type(kind).build();
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(def.billing_mode))
        .key_schema(key(def.partition_key, KeyType::Hash).map_err(refused("build a request for", name))?)
        .key_schema(key(def.sort_key, KeyType::Range).map_err(refused("build a request for", name))?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(def.stream_view_type))
                .build()
                .map_err(refused("build a request for", name))?,
        );
    for (attr, kind) in &def.attributes {
        let attribute = AttributeDefinition::builder()
            .attribute_name(*attr)
            .attribute_type(ScalarAttributeType::from(*kind))
            .build()
            .map_err(refused("build a request for", name))?;
        request = request.attribute_definitions(attribute);
    }
    for index in &def.indexes {
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(index.name)
            .key_schema(key(index.partition_key, KeyType::Hash).map_err(refused("build a request for", name))?)
            .key_schema(key(index.sort_key, KeyType::Range).map_err(refused("build a request for", name))?)
            .projection(Projection::builder().projection_type(ProjectionType::from(index.projection)).build())
            .build()
            .map_err(refused("build a request for", name))?;
        request = request.global_secondary_indexes(gsi);
    }
    request.send().await.map_err(refused("create", name))?;
    wait_until_active(client, name).await?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(def.ttl_attribute)
        .build()
        .map_err(refused("build a request for", name))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(refused("enable TTL on", name))?;
    Ok(())
}

/// The error of one request about table `table`.
fn refused<'a, E>(action: &'static str, table: &'a str) -> impl FnOnce(E) -> SchemaError + 'a
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |e| SchemaError::Request { action, table: table.into(), source: e.into() }
}

/// Polls until the table and every index report ACTIVE, or the deadline passes.
async fn wait_until_active(client: &Client, name: &str) -> Result<(), SchemaError> {
    let started = tokio::time::Instant::now();
    loop {
        let described = client.describe_table().table_name(name).send().await.map_err(refused("describe", name))?;
        let table = described.table();
        let active = table.is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes().iter().all(|i| i.index_status() == Some(&IndexStatus::Active))
        });
        if active {
            return Ok(());
        }
        if started.elapsed() >= ACTIVE_DEADLINE {
            return Err(SchemaError::NotActive { table: name.into(), waited: started.elapsed() });
        }
        tokio::time::sleep(ACTIVE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_key_is_a_declared_string_attribute() {
        let def = table_definition();
        let declared = |a: &str| def.attributes.iter().any(|(name, kind)| *name == a && *kind == "S");
        assert!(declared(def.partition_key) && declared(def.sort_key));
        for index in &def.indexes {
            assert!(declared(index.partition_key) && declared(index.sort_key), "{}", index.name);
        }
        assert_eq!(def.attributes.len(), 2 + 2 * def.indexes.len(), "no attribute is declared without a use");
    }
}
