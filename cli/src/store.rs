//! The store the global flags name, and the one place it is opened: the self-hosted SQLite file (`--db`), or
//! with `--table` the stack's DynamoDB table on AWS.
//!
//! `users`, `keys` and `systems import` work on either through the store's ports and never learn which. The
//! commands that run Flare (`serve`, `poll`, `report`) stay on SQLite: on AWS the stack's functions do their
//! work, so they refuse `--table` rather than quietly use a local file.
//!
//! The DynamoDB client is built for an admin's laptop, not for a Lambda: the SDK's full default chain finds the
//! credentials (environment, a profile, `aws sso login`'s cache, `credential_process`) and the region and
//! endpoint (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, the profile). It does not touch
//! `flare_aws::dynamodb_client`, whose environment-only chain keeps a function's cold start short.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::ProvideCredentials;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use flare_aws::DynamoStore;
use flare_core::Store;
use flare_embedded::SqliteStore;

/// Attempts per request, the first included: a laptop's network hiccups, DynamoDB throttles.
const MAX_ATTEMPTS: u32 = 3;
/// One call with its retries; an admin waiting longer would rather see the error.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a command's data lives.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// The self-hosted database; created on first use.
    Sqlite(PathBuf),
    /// The stack's DynamoDB table, by name.
    Table(String),
}

impl Backend {
    /// `--table` wins over `--db`, which always has a value (its default).
    pub(crate) fn new(db: PathBuf, table: Option<String>) -> Self {
        match table {
            Some(table) => Self::Table(table),
            None => Self::Sqlite(db),
        }
    }

    /// The store, checked to be there: for a table, credentials and region are found and the table exists.
    pub(crate) async fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        match self {
            Self::Sqlite(db) => {
                let store =
                    SqliteStore::open(db).with_context(|| format!("cannot open the database {}", db.display()))?;
                Ok(Box::new(store))
            }
            Self::Table(table) => Ok(Box::new(open_table(table).await?)),
        }
    }

    /// The SQLite database for `command`, which works only there; with `--table`, an error saying what does
    /// its work on AWS (`on_aws`).
    pub(crate) fn sqlite_only(&self, command: &str, on_aws: &str) -> anyhow::Result<&Path> {
        match self {
            Self::Sqlite(db) => Ok(db),
            Self::Table(_) => {
                Err(TableError::SqliteOnly { command: command.to_string(), on_aws: on_aws.to_string() }.into())
            }
        }
    }
}

/// Why the table named by `--table` cannot be used. Each says what to do next; none carries a credential.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TableError {
    #[error(
        "`{command}` works only on the SQLite database of a self-hosted Flare; on AWS {on_aws}. \
         Leave out --table (and FLARE_TABLE)"
    )]
    SqliteOnly { command: String, on_aws: String },
    #[error("no AWS region: set AWS_REGION, or use a profile that has one (AWS_PROFILE)")]
    NoRegion,
    #[error("no usable AWS credentials: set AWS_PROFILE to a profile that has them, or run `aws sso login`")]
    NoCredentials(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "there is no DynamoDB table {table} in this account and region: check --table (FLARE_TABLE) against the \
         stack's TableName output (`aws cloudformation describe-stacks --stack-name STACK --query \
         \"Stacks[0].Outputs\"`), and AWS_PROFILE and AWS_REGION against where the stack runs"
    )]
    NoSuchTable { table: String },
    #[error("cannot read the DynamoDB table {table}")]
    Unreachable {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The store on `table`, after checking what an admin most often gets wrong: credentials, region, the name.
async fn open_table(table: &str) -> Result<DynamoStore, TableError> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).operation_timeout(CALL_TIMEOUT).build(),
        )
        .load()
        .await;
    if config.region().is_none() {
        return Err(TableError::NoRegion);
    }
    // Resolved here, once, so that a missing profile or an expired SSO session reads as that, not as a failed
    // DynamoDB call.
    let Some(provider) = config.credentials_provider() else {
        return Err(TableError::NoCredentials("no credentials provider is configured".into()));
    };
    provider.provide_credentials().await.map_err(|e| TableError::NoCredentials(e.into()))?;

    let client = aws_sdk_dynamodb::Client::new(&config);
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(DynamoStore::new(client, table)),
        Err(e) if matches!(e.as_service_error(), Some(DescribeTableError::ResourceNotFoundException(_))) => {
            Err(TableError::NoSuchTable { table: table.to_string() })
        }
        Err(e) => Err(TableError::Unreachable { table: table.to_string(), source: e.into() }),
    }
}
