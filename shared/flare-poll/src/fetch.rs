//! Every fetch the poller makes, under one policy: a timeout, a size cap, redirects followed only to `https`
//! or to hosts the config allows, and an opt-in deny-list of private, link-local and loopback addresses that is
//! checked on every hop's literal address and on every address a host name resolves to. A denied address is
//! never connected to, so a redirect cannot reach `169.254.169.254`.
//!
//! It owns nothing else: what a body means is the caller's business.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::{Method, StatusCode};
use url::{Host, Url};

/// How many redirects one fetch follows: a sheet's one 307, with room to spare.
const REDIRECTS_MAX: usize = 5;

/// The certificate authorities an `https` fetch trusts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The machine's trust store, read and parsed when the client is built (`SSL_CERT_FILE` and `SSL_CERT_DIR`
    /// are honoured): what `flare serve` uses, so an authority the organisation added to the machine is trusted.
    #[default]
    Platform,
    /// Mozilla's root program, compiled in: nothing is read from disk or parsed at start. For the poller on
    /// Lambda, which reaches only public hosts and would otherwise parse the image's store at every cold start.
    Public,
}

/// What a fetch may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    pub timeout: Duration,
    /// The largest body read; a larger one fails the fetch.
    pub max_bytes: usize,
    /// Hosts a fetch or redirect may reach over plain `http`, and that the deny-list lets through (a sheet
    /// served from an intranet host, say). Compared case-insensitively, without port.
    pub allowed_hosts: Vec<String>,
    /// Refuse private, link-local, loopback and other non-public addresses, except on allowed hosts.
    pub deny_private: bool,
    pub roots: TrustRoots,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_bytes: 5 * 1024 * 1024,
            allowed_hosts: Vec::new(),
            deny_private: false,
            roots: TrustRoots::Platform,
        }
    }
}

impl FetchPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether the policy lets a fetch or a redirect go to `url`; the reason when not.
    pub fn check(&self, url: &Url) -> Result<(), Refusal> {
        let host = url.host_str().ok_or(Refusal::NoHost)?;
        let allowed = self.host_allowed(host);
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            _ => return Err(Refusal::NotHttps { host: host.to_string() }),
        }
        if self.deny_private && !allowed {
            let ip = match url.host() {
                Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = ip.filter(|ip| denied(*ip)) {
                return Err(Refusal::Denied { host: host.to_string(), address: ip });
            }
        }
        Ok(())
    }
}

/// Why the policy refused an address. Names the host, never the whole URL, which may carry a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the address has no host")]
    NoHost,
    #[error("{host} is not https and not an allowed host")]
    NotHttps { host: String },
    #[error("{host} is at {address}, a private, link-local or loopback address the deny-list refuses")]
    Denied { host: String, address: IpAddr },
    #[error("more than {REDIRECTS_MAX} redirects")]
    TooManyRedirects,
}

/// Whether the deny-list refuses an address: anything that is not a public unicast address.
fn denied(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                // 100.64.0.0/10, carrier-grade NAT: not reachable from outside, so never a public sheet.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xFE00) == 0xFC00 // unique local
                || (first & 0xFFC0) == 0xFE80 // link-local
                || v6.to_ipv4_mapped().is_some_and(|v4| denied(IpAddr::V4(v4)))
        }
    }
}

/// Resolves names as the system does, then refuses the whole answer if any address is denied: a name that
/// resolves to both a public and a private address is not trusted with either.
#[derive(Debug)]
struct GuardedResolver {
    policy: FetchPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let guard = self.policy.deny_private && !self.policy.host_allowed(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if guard && let Some(bad) = addrs.iter().find(|a| denied(a.ip())) {
                return Err(
                    Box::new(Refusal::Denied { host, address: bad.ip() }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused by the fetch policy: {0}")]
    Refused(#[source] Refusal),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the body is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the request failed")]
    Request(#[source] reqwest::Error),
    #[error("TLS could not be set up")]
    Tls(#[source] rustls::Error),
}

impl FetchError {
    /// Finds the policy's refusal anywhere in reqwest's error chain (a redirect or a resolution it refused).
    /// The URL is dropped: a published sheet's address is its only secret, and this error reaches the log and
    /// the poll status API.
    fn from_reqwest(e: reqwest::Error, timeout: Duration) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            return Self::Timeout(timeout);
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(refusal) = s.downcast_ref::<Refusal>() {
                return Self::Refused(refusal.clone());
            }
            source = s.source();
        }
        Self::Request(e)
    }
}

/// What a fetch got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: StatusCode,
    /// Empty for a 304.
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A request to make: method, address, validators and timeout.
#[derive(Debug, Clone)]
pub struct FetchRequest<'a> {
    pub method: Method,
    pub url: &'a Url,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    /// Shorter than the policy's, for a probe.
    pub timeout: Option<Duration>,
}

impl<'a> FetchRequest<'a> {
    pub fn get(url: &'a Url) -> Self {
        Self { method: Method::GET, url, etag: None, last_modified: None, timeout: None }
    }
}

/// TLS that trusts Mozilla's roots as compiled in, over aws-lc (the provider the rest of Flare's TLS uses).
fn public_tls() -> Result<rustls::ClientConfig, FetchError> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(FetchError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tls)
}

/// The one HTTP client of the poller.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let redirect_policy = policy.clone();
        let mut builder = reqwest::Client::builder();
        if policy.roots == TrustRoots::Public {
            builder = builder.tls_backend_preconfigured(public_tls()?);
        }
        let client = builder
            .user_agent(concat!("flare-poller/", env!("CARGO_PKG_VERSION")))
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A proxy would resolve names itself, out of the deny-list's sight.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > REDIRECTS_MAX {
                    return attempt.error(Refusal::TooManyRedirects);
                }
                match redirect_policy.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => attempt.error(refusal),
                }
            }))
            .build()
            .map_err(|e| FetchError::Request(e.without_url()))?;
        Ok(Self { client, policy: Arc::new(policy) })
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Makes the request and reads the body up to the size cap. Any status is an answer; the caller decides.
    pub async fn fetch(&self, request: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        self.policy.check(request.url).map_err(FetchError::Refused)?;
        let timeout = request.timeout.unwrap_or(self.policy.timeout).min(self.policy.timeout);
        let mut builder = self.client.request(request.method, request.url.clone()).timeout(timeout);
        if let Some(etag) = request.etag {
            builder = builder.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = request.last_modified {
            builder = builder.header(IF_MODIFIED_SINCE, modified);
        }
        let mut response = builder.send().await.map_err(|e| FetchError::from_reqwest(e, timeout))?;
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let status = response.status();
        let max = self.policy.max_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(FetchError::TooLarge { max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::from_reqwest(e, timeout))? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge { max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { status, body, etag, last_modified })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn denying() -> FetchPolicy {
        FetchPolicy { deny_private: true, allowed_hosts: vec!["intranet.example".into()], ..FetchPolicy::default() }
    }

    #[test]
    fn plain_http_is_refused_unless_the_host_is_allowed() {
        assert!(matches!(denying().check(&url("http://example.com/x")), Err(Refusal::NotHttps { .. })));
        assert_eq!(denying().check(&url("http://INTRANET.example/sheet.csv")), Ok(()));
        assert_eq!(denying().check(&url("https://example.com/x")), Ok(()));
    }

    #[test]
    fn the_deny_list_refuses_the_metadata_address_even_over_https() {
        let refusal = denying().check(&url("https://169.254.169.254/latest/meta-data/")).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied { .. }), "{refusal}");
    }

    #[test]
    fn private_loopback_and_mapped_addresses_are_denied_and_public_ones_are_not() {
        for ip in ["10.1.2.3", "192.168.0.1", "127.0.0.1", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "100.64.0.1"]
        {
            assert!(denied(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2a00:1450::1"] {
            assert!(!denied(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_public_trust_store_is_mozillas_compiled_in_and_reqwest_takes_it() {
        let named = |name: &[u8]| {
            webpki_roots::TLS_SERVER_ROOTS.iter().any(|root| root.subject.windows(name.len()).any(|w| w == name))
        };
        // Let's Encrypt's and Amazon's roots: what published sheets and most probed sites chain to.
        assert!(named(b"ISRG Root X1") && named(b"Amazon Root CA 1"));
        // reqwest refuses a rustls configuration of another version than its own when the client is built.
        assert!(Fetcher::new(FetchPolicy { roots: TrustRoots::Public, ..FetchPolicy::default() }).is_ok());
    }

    #[test]
    fn without_the_deny_list_a_private_https_address_passes() {
        assert_eq!(FetchPolicy::default().check(&url("https://10.0.0.1/x")), Ok(()));
    }
}
