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
use flare_core::retry::{Backoff, RetryAfter, retry_after as parse_retry_after, retryable_status, until};
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
    /// The first step of the shared retry schedule ([`flare_core::retry`]): it doubles with each further
    /// failure, with jitter, up to a 30 s step.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured by waiting. A vendor asking for more ends the attempts at once, with the
    /// wait reported in [`TicketError::Unavailable`], so the dispatcher can come back later instead of blocking.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// This policy's waits, on the schedule every adapter shares.
    fn schedule(&self) -> Backoff {
        Backoff { max_attempts: self.attempts, base: self.backoff, max_delay: MAX_BACKOFF }
    }
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
        retry_after: Option<RetryAfter>,
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
        let mut waits = self.policy.schedule().delays();
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
            // The schedule counts the attempts left; a vendor's own ask replaces its wait when within the cap.
            let wait = match (waits.next(), retry_after) {
                (None, _) | (_, Some(RetryAfter::TooLong(_))) => None,
                (Some(_), Some(RetryAfter::Wait(asked))) => Some(asked),
                (Some(scheduled), None) => Some(scheduled),
            };
            let Some(wait) = wait else {
                tracing::warn!(vendor, op, attempt, error = %source, "ticketing request failed; not retrying");
                let retry_after = retry_after.map(RetryAfter::asked);
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
        let asked = || retry_after(response.headers(), self.policy.max_retry_after);
        match status.as_u16() {
            200..=299 => Ok(response),
            // GitHub answers a rate limit with 403 and says so in its headers.
            403 if rate_limited(response.headers()) => retry(asked(), false),
            401 | 403 => Err(Failure::Fail(TicketError::Unauthorized { status: status.as_u16() })),
            408 => retry(None, false),
            // A 5xx may have been acted on before it failed.
            code @ 500..=599 if retryable_status(code) => retry(asked(), true),
            code if retryable_status(code) => retry(asked(), false),
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

/// `Retry-After` as seconds or an HTTP date, judged against `cap`; for a GitHub rate limit without one,
/// `x-ratelimit-reset` (epoch seconds).
fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<RetryAfter> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let now = SystemTime::now();
    if let Some(v) = text(RETRY_AFTER.as_str()) {
        return parse_retry_after(v, now, cap);
    }
    let reset = text("x-ratelimit-reset")?.parse::<u64>().ok()?;
    let wait = until(SystemTime::UNIX_EPOCH + Duration::from_secs(reset), now);
    Some(if wait > cap { RetryAfter::TooLong(wait) } else { RetryAfter::Wait(wait) })
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
    fn the_policy_waits_on_the_shared_schedule_from_its_first_backoff() {
        let policy = RetryPolicy { attempts: 3, backoff: Duration::from_millis(100), ..RetryPolicy::default() };
        let waits: Vec<Duration> = policy.schedule().delays().collect();
        assert_eq!(waits.len(), 2, "one wait fewer than attempts: {waits:?}");
        assert!((Duration::from_millis(100)..Duration::from_millis(200)).contains(&waits[0]), "{waits:?}");
        assert!((Duration::from_millis(200)..Duration::from_millis(400)).contains(&waits[1]), "{waits:?}");
    }

    #[test]
    fn retry_after_reads_the_header_then_a_github_rate_limit_reset() {
        let cap = Duration::from_secs(300);
        let mut h = HeaderMap::new();
        let reset = SystemTime::now() + Duration::from_secs(120);
        let epoch = reset.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&epoch.to_string()).unwrap());
        let Some(RetryAfter::Wait(d)) = retry_after(&h, cap) else { panic!("{:?}", retry_after(&h, cap)) };
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, cap), Some(RetryAfter::Wait(Duration::from_secs(7))));
        assert_eq!(retry_after(&h, Duration::from_secs(5)), Some(RetryAfter::TooLong(Duration::from_secs(7))));
    }
}
