//! Building AWS clients (DynamoDB, SES, SNS) the one way Flare does: explicit retries and timeouts,
//! credentials and region from the environment only (no profile files or instance-metadata probing, which cost a
//! Lambda cold start), and an endpoint override that exists for tests and development against local emulators
//! (DynamoDB Local, moto).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};

/// Attempts per request, the first included. Throttling and transient errors are retried with backoff.
const MAX_ATTEMPTS: u32 = 3;

/// How long one attempt, and one call with its retries, may take against a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) attempt: Duration,
    pub(crate) total: Duration,
}

/// DynamoDB: a request must not outlive an API Gateway call (30 s), retries included.
pub(crate) const DYNAMODB: Limits = Limits { attempt: Duration::from_secs(5), total: Duration::from_secs(15) };

fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

fn timeout_config(limits: Limits) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(limits.attempt)
        .operation_timeout(limits.total)
        .build()
}

/// The shared configuration of a production client. Credentials and region come from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`, as Lambda sets them. `endpoint_override`
/// points it at an emulator; production passes `None`.
pub(crate) async fn sdk_config(endpoint_override: Option<&str>, limits: Limits) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .retry_config(retry_config())
        .timeout_config(timeout_config(limits));
    if let Some(url) = endpoint_override {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The configuration of a client for a local emulator at `endpoint`, with fixed dummy credentials and region
/// `us-east-1`, whatever the environment says. For tests and benchmarks only.
pub(crate) fn local_sdk_config(endpoint: &str, limits: Limits) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "local",
            "local",
            None,
            None,
            "flare-local",
        )))
        .endpoint_url(endpoint)
        .retry_config(retry_config())
        .timeout_config(timeout_config(limits))
        .build()
}

/// The DynamoDB client Flare's functions use (see [`sdk_config`]).
pub async fn dynamodb_client(endpoint_override: Option<&str>) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(endpoint_override, DYNAMODB).await)
}

/// A DynamoDB client for DynamoDB Local at `endpoint`. For tests and the benchmark only.
pub fn local_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&local_sdk_config(endpoint, DYNAMODB))
}
