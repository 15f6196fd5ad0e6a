//! Transactions: each command commits as one TransactWriteItems, and when DynamoDB cancels one, the
//! cancellation reasons say which write's condition failed, so the caller can answer Conflict, NotFound,
//! AlreadyExists or IdempotencyKeyTaken instead of a bare failure.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use flare_core::StoreError;
use flare_core::retry::Backoff;

use crate::error::AdapterError;
use crate::items::Item;

/// DynamoDB's limit on the writes of one transaction.
pub(crate) const MAX_ITEMS: usize = 100;

/// Cancellation reason codes, as the DynamoDB API documents them. They are data in the error, not error types.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";
const TRANSACTION_CONFLICT: &str = "TransactionConflict";
const NO_FAILURE: &str = "None";

/// Attempts when another transaction was touching the same items at the same moment. That is not a failed
/// condition: the loser may well succeed once the winner is done, and then its own conditions decide.
const CONFLICT: Backoff =
    Backoff { max_attempts: 5, base: Duration::from_millis(15), max_delay: Duration::from_millis(200) };

/// What each write in a transaction is for, so that a failed condition can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Incident,
    Event,
    Idempotency,
    External,
    Marker,
}

#[derive(Debug, Default)]
pub(crate) struct Transaction {
    writes: Vec<(Role, TransactWriteItem)>,
}

impl Transaction {
    pub(crate) fn put(&mut self, role: Role, put: Put) {
        self.writes.push((role, TransactWriteItem::builder().put(put).build()));
    }

    pub(crate) fn delete(&mut self, role: Role, delete: Delete) {
        self.writes.push((role, TransactWriteItem::builder().delete(delete).build()));
    }
}

/// The writes whose condition failed, each with the item it was checked against when DynamoDB returned it.
#[derive(Debug)]
pub(crate) struct Refused(Vec<(Role, Option<Item>)>);

impl Refused {
    pub(crate) fn failed(&self, role: Role) -> bool {
        self.0.iter().any(|(r, _)| *r == role)
    }

    /// The stored item a failed write was checked against; `None` when there was none (or it was not asked for).
    pub(crate) fn old_item(&self, role: Role) -> Option<&Item> {
        self.0.iter().find(|(r, _)| *r == role).and_then(|(_, item)| item.as_ref())
    }
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Committed,
    Refused(Refused),
}

/// Commits all writes or none. A cancellation by a failed condition is an [`Outcome::Refused`]; a cancellation
/// by a concurrent transaction is retried on the shared schedule; anything else is an error. A free function over
/// the client, so this module and the store do not import each other.
pub(crate) async fn commit(client: &Client, transaction: Transaction) -> Result<Outcome, StoreError> {
    let count = transaction.writes.len();
    if count > MAX_ITEMS {
        return Err(StoreError::unavailable(AdapterError::TransactionTooLarge { needed: count, max: MAX_ITEMS }));
    }
    let (roles, writes): (Vec<Role>, Vec<TransactWriteItem>) = transaction.writes.into_iter().unzip();
    let mut waits = CONFLICT.delays();
    loop {
        let sent = client.transact_write_items().set_transact_items(Some(writes.clone())).send().await;
        let error = match sent {
            Ok(_) => return Ok(Outcome::Committed),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
            return Err(StoreError::unavailable(error));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed: Vec<(Role, Option<Item>)> = reasons
            .iter()
            .zip(&roles)
            .filter(|(reason, _)| reason.code() == Some(CONDITION_FAILED))
            .map(|(reason, role)| (*role, reason.item().cloned()))
            .collect();
        if !failed.is_empty() {
            return Ok(Outcome::Refused(Refused(failed)));
        }
        let raced = !reasons.is_empty()
            && reasons.iter().all(|r| matches!(r.code(), None | Some(NO_FAILURE) | Some(TRANSACTION_CONFLICT)));
        if !raced {
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
            tracing::warn!(codes = ?codes, "transaction cancelled");
            return Err(StoreError::unavailable(error));
        }
        let Some(wait) = waits.next() else {
            return Err(StoreError::unavailable(error));
        };
        tokio::time::sleep(wait).await;
    }
}
