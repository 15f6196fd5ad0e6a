//! Building the DynamoDB client: explicit retries and timeouts, credentials and region from the environment
//! only (no profile files or instance-metadata probing, which cost a Lambda cold start), and an endpoint
//! override that exists for tests and development against DynamoDB Local.

use std::time::Duration;

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

/// Attempts per request, the first included. Throttling and transient errors are retried with backoff.
const MAX_ATTEMPTS: u32 = 3;

fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// A request must not outlive an API Gateway call (30 s), retries included.
fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}

/// The client Flare's functions use. Credentials and region come from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`, as Lambda sets them.
/// `endpoint_override` points it at DynamoDB Local; production passes `None`.
pub async fn dynamodb_client(endpoint_override: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(url) = endpoint_override {
        loader = loader.endpoint_url(url);
    }
    Client::new(&loader.load().await)
}

/// A client for DynamoDB Local at `endpoint`, with fixed dummy credentials and region `us-east-1`, whatever the
/// environment says. For tests and the benchmark only.
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "flare-local"))
        .endpoint_url(endpoint)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build();
    Client::from_conf(config)
}
