//! The OpenAPI 3.1 document, generated from the code: each handler's `#[utoipa::path]` names its statuses, headers
//! and security, and the types it reads and answers with describe themselves (`ToSchema`, `IntoParams`). This
//! module holds what belongs to the whole document (its info, security schemes and tags) and serves it.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ApiError;
use flare_core::view::Audience;

use crate::respond::cached_json;
use crate::state::AppState;

/// The document's own parts; the paths come from the routers (see [`crate::openapi_document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flare",
        description = "Flare's HTTP API: the help desk's intake (form and API) and the read-only dashboard API. \
            Times are RFC 3339 in UTC. Writes need an API key with scope incidents:write (Authorization: Bearer \
            <key>) or a signed-in user (the session cookie, with the X-CSRF-Token header on API calls); reads \
            are public or need any key or session, as configured. Errors are JSON {error, fields}."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "incidents", description = "Open, update, resolve, reopen and annotate incidents"),
        (name = "dashboard", description = "Read-only: the dashboard window, one incident, the catalog"),
        (name = "admin", description = "The catalog, its subscribers and the delivery ledger (scope admin)"),
        (name = "pages", description = "HTML pages: the form, sign-in, the incident page, unsubscribe links")
    )
)]
pub(crate) struct ApiDoc;

/// The two ways a caller proves who it is.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("API key")
                    .description(Some("An API key made with `flare keys create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "flare_session",
                "The signed session cookie set by POST /login",
            ))),
        );
    }
}

/// The document as served: generated once, on first request.
fn document_json() -> Result<&'static [u8], ApiError> {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(doc) = DOCUMENT.get() {
        return Ok(doc);
    }
    let json = serde_json::to_vec(&crate::openapi_document()).map_err(ApiError::internal)?;
    Ok(DOCUMENT.get_or_init(|| json))
}

/// `GET /api/openapi.json`: public, since it describes the API and holds no data.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "dashboard",
    summary = "This document",
    security(()),
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag of the client's copy: 304 when it is current")),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object,
            headers(("ETag" = String, description = "Validator for If-None-Match"))),
        (status = 304, description = "The client's copy is current")
    )
)]
pub(crate) async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    cached_json(&state, &headers, document_json()?.to_vec(), None, Audience::Public)
}
