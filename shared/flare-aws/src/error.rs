//! Failures this adapter detects itself, beyond what DynamoDB reports. They reach callers as
//! [`flare_core::StoreError::Unavailable`], with this error as the source, so the log says what went wrong.

/// A request the adapter could not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdapterError {
    #[error("a write needs {0} items in one transaction; DynamoDB takes at most {max}", max = crate::txn::MAX_ITEMS)]
    TransactionTooLarge(usize),
    #[error("DynamoDB left {0} items unprocessed after {1} attempts")]
    Unprocessed(usize, u32),
}
