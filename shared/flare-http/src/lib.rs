//! Flare's HTTP layer: axum routers that run unchanged under `lambda_http::run` (API Gateway HTTP API) and
//! `axum::serve` (`flare serve`).
//!
//! - [`intake_router`]: the help desk's form ([`intake_form`]), sign-in ([`login`]), the write API
//!   ([`intake_api`]), the admins' catalog API ([`systems_api`]) and delivery ledger ([`deliveries`]).
//! - [`dashboard_router`]: the read-only JSON API ([`dashboard`]), the poller's sources, bad rows and probe
//!   checks ([`poll_api`]), the incident page ([`incident_page`]), the
//!   unsubscribe page ([`unsubscribe`], public: its signed token is the credential), the OpenAPI document
//!   ([`openapi`], generated from the handlers by utoipa: [`openapi_document`]) and `/healthz`.
//! - [`app`]: both, for a single process.
//!
//! Requests become domain commands in [`request`]; callers are identified in [`auth`] from API keys and the
//! signed cookies of [`session`]; every failure becomes a status code in [`error`] alone. Pages are askama
//! templates under `templates/`, auto-escaped. Nothing here relies on the peer address, which Lambda lacks.

mod assets;
mod auth;
mod availability_api;
mod config;
mod dashboard;
mod deliveries;
mod error;
mod feed;
mod incident_page;
mod intake_api;
mod intake_form;
mod login;
mod openapi;
mod pages;
mod password;
mod poll_api;
mod read_cache;
mod reads;
mod request;
mod respond;
mod session;
mod state;
mod status_page;
mod systems_api;
mod unsubscribe;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::SsoUser;
pub use config::{ConfigError, CorsOrigin, DEFAULT_MAX_BODY_BYTES, HttpConfig, SessionKey, SessionKeyError};
pub use password::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, PasswordError, hash_password};
pub use state::AppState;

use crate::error::ApiError;

fn intake_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(intake_form::show))
        .routes(routes!(intake_form::open))
        .routes(routes!(intake_form::update))
        .routes(routes!(intake_form::close))
        .routes(routes!(login::show, login::submit))
        .routes(routes!(login::logout))
        .routes(routes!(intake_api::open))
        .routes(routes!(intake_api::update))
        .routes(routes!(intake_api::resolve))
        .routes(routes!(intake_api::reopen))
        .routes(routes!(intake_api::note))
        // Admin only: recipients and subscriber lists are personal data, so even their reads are not dashboard
        // reads.
        .routes(routes!(deliveries::list))
        .routes(routes!(systems_api::put_system))
        .routes(routes!(systems_api::subscribers, systems_api::put_subscribers))
}

fn dashboard_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard::list))
        .routes(routes!(dashboard::detail))
        .routes(routes!(dashboard::systems))
        .routes(routes!(availability_api::show))
        .routes(routes!(poll_api::sources))
        .routes(routes!(poll_api::bad_rows))
        .routes(routes!(poll_api::checks))
        .routes(routes!(openapi::serve))
        .routes(routes!(incident_page::show))
        .routes(routes!(unsubscribe::show))
        .routes(routes!(dashboard::healthz))
        .routes(routes!(status_page::show))
        .routes(routes!(status_page::dashboard))
        .routes(routes!(feed::show))
        .routes(routes!(assets::status_js))
        .routes(routes!(assets::flare_svg))
}

/// The OpenAPI document of every route, generated from the handlers and the types they read and answer with.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, paths) = intake_routes().merge(dashboard_routes()).split_for_parts();
    let mut doc = openapi::ApiDoc::openapi();
    doc.merge(paths);
    doc
}

/// Every route, as (method, path), read from the generated document: the routers and the document are built
/// from the same `routes!`, so this is also every route served.
pub fn routes() -> Vec<(String, String)> {
    openapi_document()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            methods.into_iter().filter(|(_, present)| *present).map(|(m, _)| (m.to_string(), path.clone()))
        })
        .collect()
}

/// The form, sign-in and the write API.
pub fn intake_router(state: AppState) -> Router {
    finish(intake_routes().into(), state)
}

/// The read API, the incident page, the OpenAPI document and the health check.
pub fn dashboard_router(state: AppState) -> Router {
    finish(dashboard_routes().into(), state)
}

/// Everything, for a single process.
pub fn app(state: AppState) -> Router {
    finish(intake_routes().merge(dashboard_routes()).into(), state)
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
    let limit = state.config().max_body_bytes.get();
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
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(map_response(uniform))
        .layer(axum::middleware::from_fn_with_state(state.clone(), read_cache::invalidate_after_writes))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
}
