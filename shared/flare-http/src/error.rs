//! The one place where failures become HTTP status codes and client-facing bodies.
//!
//! Input errors are explicit: which field, why. Internal errors are opaque to the client (a request id only)
//! and logged in full with that id. Pages reuse [`ApiError::status`] and [`ApiError::client_message`] so a form
//! and the API never disagree about what a failure means.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flare_core::{DomainError, FieldError, StoreError, ValidationErrors};
use serde::Serialize;
use tracing::error;
use utoipa::ToSchema;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The request could not be read: malformed JSON or form, unknown fields, a bad header or parameter.
    #[error("{message}")]
    Malformed { message: String, fields: Vec<FieldError> },
    /// The request was read but its values are invalid.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// The request is well formed but cannot be carried out as asked (no change, reused idempotency key).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than this server accepts")]
    TooLarge,
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The incident changed, or is in a state that refuses this change.
    #[error("{message}")]
    Conflict { message: String, current_version: Option<u64> },
    /// Too many requests of a costly kind at once; the client should retry shortly.
    #[error("{0}")]
    Busy(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub(crate) fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let e = FieldError::new(field, reason);
        Self::Malformed { message: format!("invalid request: {e}"), fields: vec![e] }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Malformed { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid(_) | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The field errors a client can act on.
    pub(crate) fn fields(&self) -> &[FieldError] {
        match self {
            Self::Malformed { fields, .. } => fields,
            Self::Invalid(errors) => &errors.0,
            _ => &[],
        }
    }

    /// Logs an internal error in full under a fresh request id, which it returns for the answer, so the client's
    /// report and the log line meet. Called only while answering, so that asking what an error says has no
    /// side effect.
    pub(crate) fn log_internal(&self) -> Option<String> {
        let Self::Internal(source) = self else {
            return None;
        };
        let request_id = crate::session::random_token();
        error!(error = ?source, request_id = %request_id, "request failed");
        Some(request_id)
    }

    /// What the client is told: an internal error says only that, its cause is for the log.
    pub(crate) fn client_message(&self) -> String {
        self.to_string()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => Self::Invalid(errors),
            DomainError::NotFound(ticket) => Self::NotFound(format!("no incident {ticket}")),
            DomainError::Conflict { current, .. } => {
                Self::Conflict { message: e.to_string(), current_version: Some(current) }
            }
            DomainError::InvalidTransition { .. } | DomainError::AlreadyExists { .. } => {
                Self::Conflict { message: e.to_string(), current_version: None }
            }
            DomainError::IdempotencyMismatch | DomainError::NoChange => Self::Unprocessable(e.to_string()),
            DomainError::Store(source) => Self::internal(source),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<askama::Error> for ApiError {
    fn from(e: askama::Error) -> Self {
        Self::internal(e)
    }
}

/// The body of every error answer of the API.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// What went wrong, for people.
    error: String,
    /// Each invalid field and why, for bad input (400, 422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldErrorBody>,
    /// The log's reference for an internal error (500).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// The incident's version now, when a change named a stale one (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<u64>,
}

/// One invalid field: its name or path (`systems[0].impact`) and why.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FieldError)]
pub(crate) struct FieldErrorBody {
    field: String,
    reason: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.client_message(),
            fields: self
                .fields()
                .iter()
                .map(|e| FieldErrorBody { field: e.field.clone(), reason: e.reason.clone() })
                .collect(),
            request_id: self.log_internal(),
            current_version: match &self {
                Self::Conflict { current_version, .. } => *current_version,
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"flare\""));
        }
        response
    }
}
