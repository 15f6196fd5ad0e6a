//! Flare's intake Lambda: the help desk form, sign-in and the write API, on DynamoDB.
//!
//! Only wiring: logging, configuration from the environment, the store, then the shared router under
//! `lambda_http`. Everything that decides anything lives in the shared crates, where tests reach it.

use std::sync::Arc;

use flare_core::{IncidentService, SystemClock};
use flare_http::{AppState, HttpConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = flare_aws::lambda::FunctionConfig::from_env()?;
    let http = HttpConfig::from_env()?;
    let store = flare_aws::DynamoStore::new(flare_aws::dynamodb_client(None).await, config.table);
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    lambda_http::run(flare_http::intake_router(AppState::new(service, http))).await
}
