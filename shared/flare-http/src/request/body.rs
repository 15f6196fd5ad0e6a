//! Reading a request: its body's encoding, strict JSON with the failing field's path, urlencoded forms taken
//! field by field, the ticket in the path and the version a change is made against. The extractors here
//! ([`StrictJson`], [`JsonOrEmpty`], [`JsonOrForm`], [`FormBody`], [`IfMatch`], [`IdempotencyKey`]) answer
//! every rejection as an [`ApiError`], so a handler names what it takes and never parses a body itself.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use flare_core::{FieldError, TicketNumber};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    /// No body at all, for commands whose fields are all optional.
    Empty,
}

/// The body's encoding from `Content-Type`, refusing (415) anything but JSON and, where `form_ok`, urlencoded.
fn body_kind(headers: &HeaderMap, body: &Bytes, form_ok: bool) -> Result<BodyKind, ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let accepted = if form_ok { "application/json or application/x-www-form-urlencoded" } else { "application/json" };
    match essence.as_deref() {
        None if body.is_empty() => Ok(BodyKind::Empty),
        Some("application/json") => Ok(BodyKind::Json),
        Some("application/x-www-form-urlencoded") if form_ok => Ok(BodyKind::Form),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "this endpoint accepts {accepted}, not {other}: set Content-Type accordingly"
        ))),
        None => Err(ApiError::UnsupportedMediaType(format!("send a Content-Type header: {accepted}"))),
    }
}

/// The body, or why it could not be read (413 when over the limit).
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::malformed("body", e.body_text())
        }
    })
}

/// Reads a JSON body into `T`, naming the field path, line and column of the first error.
fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        // serde_path_to_error spells "no field" as "." (the root) or "?" (a syntax error before any field).
        let field = if path == "." || path == "?" { "body".to_string() } else { path };
        let reason = strip_position(&inner.to_string());
        ApiError::Malformed {
            message: format!(
                "invalid JSON at line {}, column {} (field {field}): {reason}",
                inner.line(),
                inner.column()
            ),
            fields: vec![FieldError::new(field, reason)],
        }
    })?;
    de.end().map_err(|e| ApiError::malformed("body", format!("unexpected data after the JSON value: {e}")))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the message states the position once, in its own words.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The fields of a urlencoded body, taken one by one so that whatever is left over is an unknown field.
#[derive(Debug, Default)]
pub(crate) struct FormFields {
    pairs: Vec<(String, String)>,
    repeated: Vec<String>,
}

impl FormFields {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| ApiError::malformed("body", format!("is not a valid urlencoded form: {e}")))?;
        Ok(Self { pairs, repeated: Vec::new() })
    }

    /// The value of a single-valued field; a field sent twice is reported by [`Self::finish`].
    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        self.pairs.retain(|(n, v)| {
            if n != name {
                return true;
            }
            if found.is_some() {
                self.repeated.push(name.to_string());
            }
            found = Some(v.clone());
            false
        });
        found
    }

    /// Every field whose name starts with `prefix`, as (rest of the name, value).
    pub(crate) fn take_prefixed(&mut self, prefix: &str) -> Vec<(String, String)> {
        let mut taken = Vec::new();
        self.pairs.retain(|(n, v)| match n.strip_prefix(prefix) {
            Some(rest) => {
                taken.push((rest.to_string(), v.clone()));
                false
            }
            None => true,
        });
        taken
    }

    /// Refuses fields nobody took and fields given twice.
    pub(crate) fn finish(mut self) -> Result<(), ApiError> {
        self.repeated.dedup();
        if let Some(name) = self.repeated.first() {
            return Err(ApiError::malformed(name.clone(), "is given more than once"));
        }
        match self.pairs.first() {
            Some((name, _)) => Err(ApiError::malformed(name.clone(), "is not a field of this form")),
            None => Ok(()),
        }
    }
}

/// A ticket number from the path. A malformed one names no incident, so it is a 404 like an unknown one.
pub(crate) fn path_ticket(raw: &str) -> Result<TicketNumber, ApiError> {
    TicketNumber::parse("ticket", raw)
        .map_err(|e| ApiError::NotFound(format!("no incident {raw:?}: a ticket {}", e.reason)))
}

/// The version a change is made against, from `If-Match` (`"3"` or `3`); `*` (any version) and no header leave
/// it to the body's `version` field.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IfMatch(Option<u64>);

impl IfMatch {
    fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(raw) = headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let bad = || ApiError::malformed("If-Match", "must be the incident's ETag, like \"3\"");
        let raw = raw.to_str().map_err(|_| bad())?.trim();
        if raw == "*" {
            return Ok(Self(None));
        }
        let version: u64 = raw.trim_matches('"').parse().map_err(|_| bad())?;
        Ok(Self(Some(version)))
    }

    /// The expected version, given the body's `version`: the two must agree when both are sent.
    pub(crate) fn with_body(self, body: Option<u64>) -> Result<Option<u64>, ApiError> {
        match (self.0, body) {
            // Both are read; they only disagree, which is the client's contradiction, not a syntax error.
            (Some(header), Some(b)) if header != b => {
                Err(ApiError::Invalid(FieldError::new("version", "differs from the If-Match header").into()))
            }
            (Some(header), _) => Ok(Some(header)),
            (None, b) => Ok(b),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::parse(&parts.headers)
    }
}

/// The `Idempotency-Key` header, if sent: a retry with the same key answers as the first request did.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdempotencyKey(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get("idempotency-key")
            .map(|v| {
                v.to_str()
                    .map(str::to_string)
                    .map_err(|_| ApiError::malformed("Idempotency-Key", "must be printable ASCII"))
            })
            .transpose()?;
        Ok(Self(key))
    }
}

/// The body with its encoding, or why it cannot be read.
async fn read<S: Send + Sync>(req: Request, state: &S, form_ok: bool) -> Result<(BodyKind, Bytes), ApiError> {
    let headers = req.headers().clone();
    let bytes = body(Bytes::from_request(req, state).await)?;
    Ok((body_kind(&headers, &bytes, form_ok)?, bytes))
}

/// A required JSON body, read strictly into `T`.
#[derive(Debug)]
pub(crate) struct StrictJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read(req, state, false).await? {
            (BodyKind::Json, bytes) => json(&bytes).map(Self),
            _ => Err(ApiError::malformed("body", "is required")),
        }
    }
}

/// A JSON body of a command whose fields are all optional: no body at all, or `null`, is `T::default()`.
#[derive(Debug)]
pub(crate) struct JsonOrEmpty<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read(req, state, false).await? {
            (BodyKind::Empty, _) => Ok(Self(T::default())),
            // `null` says as plainly as no body that nothing is given.
            (_, bytes) => json::<Option<T>>(&bytes).map(|t| Self(t.unwrap_or_default())),
        }
    }
}

/// A required body, as JSON read strictly into `J` or as urlencoded form fields.
#[derive(Debug)]
pub(crate) enum JsonOrForm<J> {
    Json(J),
    Form(FormFields),
}

impl<S: Send + Sync, J: DeserializeOwned> FromRequest<S> for JsonOrForm<J> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read(req, state, true).await? {
            (BodyKind::Json, bytes) => json(&bytes).map(Self::Json),
            (BodyKind::Form, bytes) => FormFields::parse(&bytes).map(Self::Form),
            (BodyKind::Empty, _) => Err(ApiError::malformed("body", "is required")),
        }
    }
}

/// A urlencoded form post (a page's form); no body at all is a form without fields. JSON is refused (415): a
/// page's form is never sent as JSON.
#[derive(Debug)]
pub(crate) struct FormBody(pub(crate) FormFields);

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read(req, state, true).await? {
            (BodyKind::Form, bytes) => FormFields::parse(&bytes).map(Self),
            (BodyKind::Empty, _) => Ok(Self(FormFields::default())),
            (BodyKind::Json, _) => Err(ApiError::UnsupportedMediaType(
                "this form must be posted as application/x-www-form-urlencoded".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_sent_twice_is_refused() {
        let mut fields = FormFields::parse(b"title=a&title=b").unwrap();
        fields.take("title");
        assert!(matches!(fields.finish(), Err(ApiError::Malformed { fields, .. }) if fields[0].field == "title"));
    }

    #[test]
    fn if_match_takes_quoted_or_bare_versions() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, "\"4\"".parse().unwrap());
        assert_eq!(IfMatch::parse(&headers).unwrap().with_body(None).unwrap(), Some(4));
        headers.insert(header::IF_MATCH, "4".parse().unwrap());
        assert_eq!(IfMatch::parse(&headers).unwrap().with_body(Some(4)).unwrap(), Some(4));
        assert!(IfMatch::parse(&headers).unwrap().with_body(Some(3)).is_err());
    }
}
