//! Errors at the domain boundary: rule violations and store failures, beside the field-level validation errors
//! of [`crate::field`].
//!
//! Validation errors name the field and the reason so that a form can show each error beside its field and an
//! API client can fix its request. Store errors keep their source for the log; the HTTP layer decides what a
//! client sees.

pub use crate::field::{FieldError, ValidationErrors};
use crate::values::{Status, TicketNumber};

/// Why a store operation failed. `Conflict` and `IdempotencyMismatch` are outcomes the caller handles;
/// `Unavailable` and `Corrupt` are internal and must reach the client only as an opaque error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{ticket} was changed by someone else: it is now at version {current}")]
    Conflict { ticket: TicketNumber, current: u64 },
    #[error("no incident {0}")]
    NotFound(TicketNumber),
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("this idempotency key is already recorded")]
    IdempotencyKeyTaken,
    #[error("the store could not be reached or refused the request")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the store holds a record it cannot read: {0}")]
    Corrupt(String),
    #[error("the store holds a record it cannot decode: {what}")]
    Undecodable {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("no incident {0}")]
    NotFound(TicketNumber),
    #[error("{ticket} is {status}: {reason}")]
    InvalidTransition { ticket: TicketNumber, status: Status, reason: &'static str },
    #[error("{ticket} was changed by someone else: it is now at version {current}")]
    Conflict { ticket: TicketNumber, current: u64 },
    #[error("this idempotency key was already used for a different request")]
    IdempotencyMismatch,
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("nothing to change: the update repeats the incident as it is")]
    NoChange,
    #[error("storage failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { ticket, current } => Self::Conflict { ticket, current },
            StoreError::NotFound(t) => Self::NotFound(t),
            StoreError::AlreadyExists { what } => Self::AlreadyExists { what },
            other => Self::Store(other),
        }
    }
}

/// An error and each of its sources, joined with ": ", for logs and the delivery ledger. Errors in Flare carry
/// no secrets, so the whole chain is safe to show to an operator (never to a client: those get opaque errors).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
