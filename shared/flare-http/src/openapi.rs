//! The OpenAPI 3.1 document of every route, kept as one hand-written file (`openapi.json` at the crate root)
//! and served as is. Tests hold it and [`crate::ROUTES`] to each other, and the routers to both.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::error::ApiError;
use crate::respond::cached_json;
use crate::state::AppState;

/// The document, compiled in.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// `GET /api/openapi.json`: public, since it describes the API and holds no data.
pub(crate) async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    cached_json(&state, &headers, OPENAPI_JSON.as_bytes().to_vec(), None)
}
