//! Sending one logical request to a vendor: a per-request timeout, at most N attempts with exponential backoff
//! and jitter for 429, 5xx, timeouts and connection failures, and the one place where an HTTP answer becomes a
//! [`TicketError`].
//!
//! Logs name the vendor, the operation, the attempt and the status, never a URL (a webhook URL may carry a
//! token), a header or a body. Errors keep their source with the URL stripped.

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use flare_core::TicketError;
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Longest single backoff between attempts, however many attempts are configured.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Most of a vendor's error message kept in [`TicketError::Rejected`].
const DETAIL_MAX: usize = 500;

/// How hard to try one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least 1.
    pub attempts: u32,
    /// Per attempt, from connecting to the end of the response body.
    pub timeout: Duration,
    /// The wait after the first failure; it doubles with each further failure (with jitter), up to 30 s.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured by waiting. A vendor asking for more ends the attempts at once, with the
    /// wait reported in [`TicketError::Unavailable`], so the dispatcher can come back later instead of blocking.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            timeout: Duration::from_secs(10),
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// The HTTP client of one adapter, with its vendor name for logs and its retry policy.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: Client,
    vendor: &'static str,
    policy: RetryPolicy,
}

/// What a create with a look-up ended in: the vendor's answer to the create, or the ticket the look-up found.
pub(crate) enum Created<T> {
    Response(Response),
    Found(T),
}

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt. `ambiguous` when the vendor may have acted on the request anyway (a 5xx, a timeout
    /// after sending), so a create must look before it tries again.
    Retry {
        retry_after: Option<Duration>,
        ambiguous: bool,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    Fail(TicketError),
}

/// A status that was retried, as the source of [`TicketError::Unavailable`].
#[derive(Debug)]
struct StatusError {
    vendor: &'static str,
    status: StatusCode,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.vendor, self.status.as_u16())
    }
}

impl std::error::Error for StatusError {}

/// Builds the shared HTTP client. Per-request timeouts are set by [`Sender`]; the connect timeout here bounds a
/// vendor that does not answer at all.
pub(crate) fn client(policy: &RetryPolicy) -> Result<Client, reqwest::Error> {
    Client::builder().user_agent(concat!("flare/", env!("CARGO_PKG_VERSION"))).connect_timeout(policy.timeout).build()
}

impl Sender {
    pub(crate) fn new(client: Client, vendor: &'static str, policy: RetryPolicy) -> Self {
        Self { client, vendor, policy: RetryPolicy { attempts: policy.attempts.max(1), ..policy } }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sends a request built afresh for each attempt, and returns the first 2xx answer.
    pub(crate) async fn send(
        &self,
        op: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, TicketError> {
        let none = || async { Ok(None::<std::convert::Infallible>) };
        match self.create(op, build, none).await? {
            Created::Response(r) => Ok(r),
            Created::Found(never) => match never {},
        }
    }

    /// Like [`Sender::send`], for a request that is not safe to repeat blindly: after an attempt whose outcome is
    /// unknown (a 5xx or a timeout), `lookup` runs before the next attempt, and what it finds ends the retries.
    /// This keeps a slow vendor that did create the ticket from getting a second create.
    pub(crate) async fn create<T, L, Fut>(
        &self,
        op: &'static str,
        build: impl Fn() -> RequestBuilder,
        lookup: L,
    ) -> Result<Created<T>, TicketError>
    where
        L: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, TicketError>>,
    {
        let vendor = self.vendor;
        let mut look_first = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if look_first && let Some(found) = lookup().await? {
                tracing::info!(vendor, op, attempt, "found what an earlier attempt created");
                return Ok(Created::Found(found));
            }
            let (retry_after, source) = match self.attempt(build()).await {
                Ok(response) => return Ok(Created::Response(response)),
                Err(Failure::Fail(e)) => {
                    tracing::warn!(vendor, op, attempt, error = %e, "ticketing request failed");
                    return Err(e);
                }
                Err(Failure::Retry { retry_after, ambiguous, source }) => {
                    look_first |= ambiguous;
                    (retry_after, source)
                }
            };
            let wait = match retry_after {
                _ if attempt >= self.policy.attempts => None,
                Some(asked) if asked > self.policy.max_retry_after => None,
                Some(asked) => Some(asked),
                None => Some(backoff(self.policy.backoff, attempt)),
            };
            let Some(wait) = wait else {
                tracing::warn!(vendor, op, attempt, error = %source, "ticketing request failed; not retrying");
                return Err(TicketError::Unavailable { retry_after, source: Some(source) });
            };
            tracing::info!(vendor, op, attempt, wait_ms = wait.as_millis() as u64, error = %source, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, request: RequestBuilder) -> Result<Response, Failure> {
        match request.timeout(self.policy.timeout).send().await {
            Ok(response) => self.classify(response).await,
            Err(e) if e.is_builder() => Err(Failure::Fail(TicketError::Invalid(format!(
                "the request to {} could not be built: check its URL",
                self.vendor
            )))),
            // A refused connection never reached the vendor; anything later may have.
            Err(e) => {
                Err(Failure::Retry { retry_after: None, ambiguous: !e.is_connect(), source: Box::new(e.without_url()) })
            }
        }
    }

    /// The one mapping from an HTTP answer to success, retry or a permanent [`TicketError`].
    async fn classify(&self, response: Response) -> Result<Response, Failure> {
        let status = response.status();
        let retry = |retry_after, ambiguous| {
            Err(Failure::Retry {
                retry_after,
                ambiguous,
                source: Box::new(StatusError { vendor: self.vendor, status }),
            })
        };
        match status.as_u16() {
            200..=299 => Ok(response),
            429 => retry(retry_after(response.headers()), false),
            // GitHub answers a rate limit with 403 and says so in its headers.
            403 if rate_limited(response.headers()) => retry(retry_after(response.headers()), false),
            401 | 403 => Err(Failure::Fail(TicketError::Unauthorized { status: status.as_u16() })),
            408 => retry(None, false),
            500..=599 => retry(retry_after(response.headers()), true),
            400..=499 => {
                let detail = vendor_detail(response).await;
                Err(Failure::Fail(TicketError::Rejected { status: status.as_u16(), detail }))
            }
            other => Err(Failure::Fail(TicketError::Invalid(format!("{} answered HTTP {other}", self.vendor)))),
        }
    }

    /// Reads a 2xx answer as JSON. A body cut off by the timeout is transient (the request itself succeeded, so a
    /// later look-up finds its result); a body of the wrong shape is not.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        response: Response,
    ) -> Result<T, TicketError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TicketError::Unavailable { retry_after: None, source: Some(Box::new(e.without_url())) })?;
        serde_json::from_slice(&bytes).map_err(|e| TicketError::Invalid(format!("{} {op}: {e}", self.vendor)))
    }
}

/// Exponential backoff with equal jitter: half the step is fixed, half random, so clients that failed together
/// do not come back together.
fn backoff(base: Duration, failures: u32) -> Duration {
    let step = base.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1))).min(MAX_BACKOFF);
    let half = step / 2;
    let jitter_ms = rand::rng().random_range(0..=half.as_millis().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_millis(jitter_ms)
}

/// `Retry-After` as seconds or an HTTP date; for a GitHub rate limit, `x-ratelimit-reset` (epoch seconds).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(v) = text(RETRY_AFTER.as_str()) {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(v).ok()?;
        return Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO));
    }
    let reset = text("x-ratelimit-reset")?.parse::<u64>().ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn rate_limited(headers: &HeaderMap) -> bool {
    headers.contains_key(RETRY_AFTER) || headers.get("x-ratelimit-remaining").is_some_and(|v| v == "0")
}

/// The vendor's own words about a refused request, from the fields each documents: ServiceNow
/// `error.message`/`error.detail`, Jira `errorMessages`/`errors`, GitHub `message`/`errors`. The raw body is
/// never kept: it may echo what was sent.
async fn vendor_detail(response: Response) -> String {
    let Ok(body) = response.json::<Value>().await else {
        return "no detail given".into();
    };
    let mut parts: Vec<String> = Vec::new();
    let mut push = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => parts.push(s.clone()),
        _ => {}
    };
    push(&body["error"]["message"]);
    push(&body["error"]["detail"]);
    push(&body["message"]);
    body["errorMessages"].as_array().into_iter().flatten().for_each(&mut push);
    match &body["errors"] {
        Value::Object(fields) => {
            for (field, why) in fields {
                if let Some(why) = why.as_str() {
                    parts.push(format!("{field}: {why}"));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let field = item["field"].as_str().unwrap_or("");
                let code = item["code"].as_str().or(item["message"].as_str()).unwrap_or("");
                parts.push(format!("{field} {code}").trim().to_string());
            }
        }
        _ => {}
    }
    if parts.is_empty() {
        return "no detail given".into();
    }
    let joined = parts.join("; ");
    match joined.char_indices().nth(DETAIL_MAX) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_within_its_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for (failures, step) in [(1, 100), (2, 200), (3, 400)] {
            let d = backoff(base, failures).as_millis();
            assert!((step / 2..=step).contains(&d), "{failures}: {d}");
        }
        assert!(backoff(base, 40) <= MAX_BACKOFF);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
