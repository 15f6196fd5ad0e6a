//! Failures this adapter detects itself, beyond what DynamoDB reports. They reach callers as
//! [`flare_core::StoreError::Unavailable`], with this error as the source, so the log says what went wrong.

/// A request the adapter could not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdapterError {
    #[error("a write needs {needed} items in one transaction; DynamoDB takes at most {max}")]
    TransactionTooLarge { needed: usize, max: usize },
    #[error("DynamoDB left {0} items unprocessed after {1} attempts")]
    Unprocessed(usize, u32),
}
