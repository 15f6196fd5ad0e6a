//! Flare's HTTP layer: axum routers that run unchanged under `lambda_http::run` (API Gateway HTTP API) and
//! `axum::serve` (`flare serve`).
//!
//! - [`intake_router`]: the help desk's form ([`intake_form`]), sign-in ([`login`]), the write API
//!   ([`intake_api`]), the admins' catalog API ([`systems_api`]) and delivery ledger ([`deliveries`]).
//! - [`dashboard_router`]: the read-only JSON API ([`dashboard`]), the incident page ([`incident_page`]), the
//!   unsubscribe page ([`unsubscribe`], public: its signed token is the credential), the OpenAPI document
//!   ([`openapi`]) and `/healthz`.
//! - [`app`]: both, for a single process.
//!
//! Requests become domain commands in [`request`]; callers are identified in [`auth`] from API keys and the
//! signed cookies of [`session`]; every failure becomes a status code in [`error`] alone. Pages are askama
//! templates under `templates/`, auto-escaped. Nothing here relies on the peer address, which Lambda lacks.

mod auth;
mod config;
mod dashboard;
mod deliveries;
mod error;
mod incident_page;
mod intake_api;
mod intake_form;
mod login;
mod openapi;
mod pages;
mod password;
mod request;
mod respond;
mod session;
mod state;
mod systems_api;
mod unsubscribe;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post, put};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use config::{ConfigError, DEFAULT_MAX_BODY_BYTES, HttpConfig, SessionKey};
pub use openapi::OPENAPI_JSON;
pub use password::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, PasswordError, hash_password};
pub use state::AppState;
pub use unsubscribe::unsubscribe_key;

use crate::error::ApiError;
use crate::request::{NoteJson, ReopenJson, ResolveJson};

/// Every route, as (method, path): the routers are built from paths listed here, and the OpenAPI document
/// must describe exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    // Intake
    ("GET", "/form"),
    ("POST", "/form/open"),
    ("POST", "/form/update"),
    ("POST", "/form/close"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/api/incidents"),
    ("PATCH", "/api/incidents/{ticket}"),
    ("POST", "/api/incidents/{ticket}/resolve"),
    ("POST", "/api/incidents/{ticket}/reopen"),
    ("POST", "/api/incidents/{ticket}/notes"),
    ("GET", "/api/incidents/{ticket}/deliveries"),
    ("PUT", "/api/systems/{id}"),
    ("GET", "/api/systems/{id}/subscribers"),
    ("PUT", "/api/systems/{id}/subscribers"),
    // Dashboard
    ("GET", "/api/incidents"),
    ("GET", "/api/incidents/{ticket}"),
    ("GET", "/api/systems"),
    ("GET", "/api/openapi.json"),
    ("GET", "/incidents/{ticket}"),
    ("GET", "/unsubscribe/{token}"),
    ("GET", "/healthz"),
];

/// Adds a route, refusing (in debug builds, so in every test) a path missing from [`ROUTES`].
fn route(router: Router<AppState>, path: &'static str, handler: MethodRouter<AppState>) -> Router<AppState> {
    debug_assert!(ROUTES.iter().any(|(_, p)| *p == path), "{path} is missing from ROUTES");
    router.route(path, handler)
}

fn intake_routes() -> Router<AppState> {
    let r = Router::new();
    let r = route(r, "/form", get(intake_form::show));
    let r = route(r, "/form/open", post(intake_form::open));
    let r = route(r, "/form/update", post(intake_form::update));
    let r = route(r, "/form/close", post(intake_form::close));
    let r = route(r, "/login", get(login::show).post(login::submit));
    let r = route(r, "/logout", post(login::logout));
    let r = route(r, "/api/incidents", post(intake_api::open));
    let r = route(r, "/api/incidents/{ticket}", patch(intake_api::update));
    let r = route(r, "/api/incidents/{ticket}/resolve", post(intake_api::action::<ResolveJson>));
    let r = route(r, "/api/incidents/{ticket}/reopen", post(intake_api::action::<ReopenJson>));
    let r = route(r, "/api/incidents/{ticket}/notes", post(intake_api::action::<NoteJson>));
    // Admin only: recipients and subscriber lists are personal data, so even their reads are not dashboard reads.
    let r = route(r, "/api/incidents/{ticket}/deliveries", get(deliveries::list));
    let r = route(r, "/api/systems/{id}", put(systems_api::put_system));
    route(r, "/api/systems/{id}/subscribers", get(systems_api::subscribers).put(systems_api::put_subscribers))
}

fn dashboard_routes() -> Router<AppState> {
    let r = Router::new();
    let r = route(r, "/api/incidents", get(dashboard::list));
    let r = route(r, "/api/incidents/{ticket}", get(dashboard::detail));
    let r = route(r, "/api/systems", get(dashboard::systems));
    let r = route(r, "/api/openapi.json", get(openapi::serve));
    let r = route(r, "/incidents/{ticket}", get(incident_page::show));
    let r = route(r, "/unsubscribe/{token}", get(unsubscribe::show));
    route(r, "/healthz", get(dashboard::healthz))
}

/// The form, sign-in and the write API.
pub fn intake_router(state: AppState) -> Router {
    finish(intake_routes(), state)
}

/// The read API, the incident page, the OpenAPI document and the health check.
pub fn dashboard_router(state: AppState) -> Router {
    finish(dashboard_routes(), state)
}

/// Everything, for a single process.
pub fn app(state: AppState) -> Router {
    finish(intake_routes().merge(dashboard_routes()), state)
}

/// Unknown paths answer in the same JSON shape as every other error.
async fn no_route() -> Response {
    ApiError::NotFound("no such route: see /api/openapi.json".into()).into_response()
}

/// The body limit layer answers in plain text; answer like every other error, and forbid content sniffing.
async fn uniform(mut response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        response = ApiError::TooLarge.into_response();
    }
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The layers every router carries, outermost first: tracing, CORS, uniform errors, the body limit.
fn finish(routes: Router<AppState>, state: AppState) -> Router {
    let limit = state.config().max_body_bytes;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(state.cors_origins().iter().cloned()))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::ETAG, header::LOCATION])
        .max_age(Duration::from_secs(600));
    routes
        .fallback(no_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(map_response(uniform))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
}
