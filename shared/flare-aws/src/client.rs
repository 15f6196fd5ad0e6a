//! Building AWS clients (DynamoDB, SES, SNS, Secrets Manager) the one way Flare's functions do, cheaply enough for
//! a Lambda cold start:
//!
//! - credentials, region and endpoint come from the environment Lambda sets, read once; there is no profile file,
//!   instance-metadata or STS probing (no `aws-config`), which costs init time and binary size;
//! - every client of a function's process shares one HTTPS client, so one connection pool serves them all (a local
//!   emulator's clients, in tests and benchmarks, each get their own);
//! - that client trusts only the roots of Amazon Trust Services, compiled in ([`AMAZON_ROOTS`]): AWS endpoints'
//!   certificates chain to them, and nothing is read from the file system's certificate store at cold start;
//! - retries and timeouts are explicit, per service ([`Limits`]).
//!
//! The endpoint override is the SDKs' own convention (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`), for
//! development and the benchmarks against DynamoDB Local and moto; a deployed stack sets neither.

use std::sync::LazyLock;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::SdkConfig;

/// Attempts per request, the first included. Throttling and transient errors are retried with backoff.
const MAX_ATTEMPTS: u32 = 3;

/// The root certificates the AWS clients trust: Amazon Root CA 1 to 4 and Starfield Services Root G2, the roots of
/// Amazon Trust Services. A certificate any other authority issued for an AWS host name is refused. The AWS
/// endpoints of the commercial and GovCloud regions chain to them; the China regions, run apart, are not
/// covered: a stack there would need their endpoints' roots added to this file.
pub const AMAZON_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// How long one attempt, and one call with its retries, may take against a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) attempt: Duration,
    pub(crate) total: Duration,
}

/// DynamoDB: a request must not outlive an API Gateway call (30 s), retries included.
pub(crate) const DYNAMODB: Limits = Limits { attempt: Duration::from_secs(5), total: Duration::from_secs(15) };

/// A service's client settings: its limits, and the suffix of its endpoint-override variable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Service {
    /// As in `AWS_ENDPOINT_URL_<env>`, e.g. `DYNAMODB` or `SECRETS_MANAGER`.
    pub(crate) env: &'static str,
    pub(crate) limits: Limits,
}

/// An HTTPS client: rustls on aws-lc, trusting [`AMAZON_ROOTS`] only. The SDK builds a connector from it to
/// check it as each service client is made, and the one it keeps on the first request: each time the five roots
/// are parsed, which takes microseconds, and no file is read.
fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS);
    // `build` only stores the trust store and cannot fail; were it to, failing init is right, and falling back to
    // the default context would trust every root on the machine.
    #[allow(clippy::expect_used)]
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context over Amazon's roots");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// The one HTTPS client of a function's process, which has one Tokio runtime: a pooled connection is driven by a
/// task of the runtime that opened it, so a process with several runtimes (a test binary) must not share it.
static HTTP_CLIENT: LazyLock<SharedHttpClient> = LazyLock::new(https_client);

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

fn builder(limits: Limits, http_client: SharedHttpClient) -> aws_types::sdk_config::Builder {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(retry_config())
        .timeout_config(timeout_config(limits))
}

/// The configuration of a function's client for `service`, from `env`: `AWS_REGION` (or `AWS_DEFAULT_REGION`),
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` as Lambda sets them, and the endpoint
/// override. Missing credentials or region make the client's calls fail, saying which; they are not guessed.
pub(crate) fn sdk_config_from(env: impl Fn(&str) -> Option<String>, service: Service) -> SdkConfig {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let mut config = builder(service.limits, HTTP_CLIENT.clone());
    if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        config = config.region(Region::new(region));
    }
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(id, secret, env("AWS_SESSION_TOKEN"), None, "lambda-environment");
        config = config.credentials_provider(SharedCredentialsProvider::new(credentials));
    }
    if let Some(url) = env(&format!("AWS_ENDPOINT_URL_{}", service.env)).or_else(|| env("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(url);
    }
    config.build()
}

/// [`sdk_config_from`] the process environment.
pub(crate) fn sdk_config(service: Service) -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok(), service)
}

/// The configuration of a client for a local emulator at `endpoint`, with fixed dummy credentials and region
/// `us-east-1`, whatever the environment says, and an HTTP client of its own (a test may run on a runtime of its
/// own). For tests and benchmarks only.
pub(crate) fn local_sdk_config(endpoint: &str, limits: Limits) -> SdkConfig {
    builder(limits, https_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "local",
            "local",
            None,
            None,
            "flare-local",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// The DynamoDB client Flare's functions use (see [`sdk_config`]).
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(Service { env: "DYNAMODB", limits: DYNAMODB }))
}

/// A DynamoDB client for DynamoDB Local at `endpoint`. For tests and the benchmark only.
pub fn local_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&local_sdk_config(endpoint, DYNAMODB))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> SdkConfig {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        sdk_config_from(|name| vars.get(name).cloned(), Service { env: "DYNAMODB", limits: DYNAMODB })
    }

    #[test]
    fn the_trusted_roots_are_the_five_of_amazon_trust_services() {
        assert_eq!(AMAZON_ROOTS.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(AMAZON_ROOTS.matches("-----END CERTIFICATE-----").count(), 5);
    }

    #[test]
    fn region_and_endpoint_come_from_the_lambda_environment_and_the_service_override_wins() {
        let config = config(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://localhost:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000"),
        ]);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://localhost:8000"));
    }

    #[test]
    fn without_an_override_the_endpoint_is_the_services_own_and_a_blank_variable_counts_as_unset() {
        let config = config(&[("AWS_DEFAULT_REGION", "us-west-2"), ("AWS_REGION", ""), ("AWS_ENDPOINT_URL", "")]);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-west-2"));
        assert_eq!(config.endpoint_url(), None);
    }

    #[test]
    fn credentials_are_taken_only_when_both_halves_are_set() {
        assert!(
            config(&[("AWS_ACCESS_KEY_ID", "id"), ("AWS_SECRET_ACCESS_KEY", "secret")])
                .credentials_provider()
                .is_some()
        );
        assert!(config(&[("AWS_ACCESS_KEY_ID", "id")]).credentials_provider().is_none());
    }
}
