//! Flare's dashboard Lambda: the read-only incident API, on DynamoDB.
//!
//! Only wiring: logging, the Secrets Manager secret (the session key) laid over the environment, configuration,
//! the store and its warmed connection, then the shared router under `lambda_http`. Everything that decides anything lives in the shared crates, where tests reach it.

use std::sync::Arc;

use flare_aws::secrets::Secrets;
use flare_core::config::Env;
use flare_core::{IncidentService, SystemClock};
use flare_http::{AppState, HttpConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    flare_aws::lambda::init_logging();
    let secrets = Secrets::from_env(&Env::process()).await?;
    let env = secrets.over_process_env();
    let config = flare_aws::lambda::FunctionConfig::from(&env)?;
    let http = HttpConfig::from_lookup(&env)?;
    let sso = flare_aws::lambda::SsoConfig::from(&env)?;
    let client = flare_aws::dynamodb_client();
    // The first request then reuses this connection rather than paying the TLS handshake (see `warm_up`).
    flare_aws::lambda::warm_up(&client, &config.table).await;
    let store = flare_aws::DynamoStore::new(client, config.table);
    let service = IncidentService::new(Arc::new(store), Arc::new(SystemClock));
    lambda_http::run(sso.layer(flare_http::dashboard_router(AppState::new(service, http)))).await
}
