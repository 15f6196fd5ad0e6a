//! Errors at the domain boundary: field-level validation errors, rule violations, and store failures.
//!
//! Validation errors name the field and the reason so that a form can show each error beside its field and an
//! API client can fix its request. Store errors keep their source for the log; the HTTP layer decides what a
//! client sees.

use std::fmt;

use serde::Serialize;

use crate::ticket::TicketNumber;

/// One field that failed validation, and why, in words an agent can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// All the field errors of one input, collected so the caller sees every problem at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError::new(field, reason));
    }

    /// Records the error of a parse, keeping its value when it succeeded.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The field errors, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// `Ok(())` when nothing failed, so `errors.finish()?` ends a validation.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "invalid input: {}", parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

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
    InvalidTransition { ticket: TicketNumber, status: crate::incident::Status, reason: &'static str },
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
