//! Flare's dashboard Lambda: the read-only incident API, on DynamoDB.
//!
//! Only wiring: the shared router under the HTTP functions' one cold start ([`flare_aws::lambda::serve_http`]:
//! logging, the secret, the warmed connection, configuration). Everything that decides anything lives in the
//! shared crates, where tests reach it.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    flare_aws::lambda::serve_http(flare_http::dashboard_router).await
}
