//! The HTTP layer's configuration: what the entry point (`flare serve`, a Lambda's `main`) reads once at start-up
//! and hands over. It owns the session key, which must never print.

use std::num::NonZeroUsize;

use axum::http::HeaderValue;
use flare_core::config::{Env, https_or_loopback};
pub use flare_core::{SessionKey, SessionKeyError};

/// The default cap on a request body: generous for a form with a long description, small enough to refuse junk.
pub const DEFAULT_MAX_BODY_BYTES: NonZeroUsize = NonZeroUsize::new(64 * 1024).unwrap();

/// Why a configuration was refused, naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] flare_core::config::ConfigError),
    #[error(transparent)]
    SessionKey(#[from] SessionKeyError),
    #[error("CORS origin {origin:?} must look like https://host[:port], without a path: it {problem}")]
    BadCorsOrigin { origin: String, problem: &'static str },
}

/// A browser origin allowed to call the API from another site, like `https://status.example.com`: checked when
/// it is parsed, so a configuration can only hold usable ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOrigin(HeaderValue);

impl CorsOrigin {
    /// `https://host[:port]` (plain `http` only on a loopback host), without a path, query or fragment.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let bad = |problem| ConfigError::BadCorsOrigin { origin: text.to_string(), problem };
        let url = https_or_loopback(text).map_err(bad)?;
        let bare = text.trim().trim_end_matches('/');
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || bare.ends_with('?') {
            return Err(bad("has a path, query or fragment"));
        }
        HeaderValue::from_str(&url.origin().ascii_serialization()).map(Self).map_err(|_| bad("is not a header value"))
    }

    pub(crate) fn header(&self) -> &HeaderValue {
        &self.0
    }
}

/// How the routers behave. Every field holds a checked value (a [`SessionKey`], [`CorsOrigin`]s, a non-zero
/// limit), so a configuration that exists is a usable one and nothing downstream re-checks it.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whether anyone may read incidents and systems. Otherwise reads need an API key or a signed-in user.
    pub public_reads: bool,
    /// Browser origins allowed to call the API from another site.
    pub cors_origins: Vec<CorsOrigin>,
    /// Whether cookies are marked `Secure` (sent over HTTPS only). Off only for plain-HTTP development.
    pub secure_cookies: bool,
    pub session_key: SessionKey,
    /// Requests with a larger body are refused with 413.
    pub max_body_bytes: NonZeroUsize,
    /// How long a shared cache (a CDN in front of public reads) may serve a public answer, in seconds; 0 (the
    /// default) lets none keep it without revalidating.
    pub shared_cache_secs: u32,
}

impl Default for HttpConfig {
    /// Private reads, no CORS, secure cookies, the default body limit, and a random session key (so sessions
    /// last only as long as the process: give a shared key wherever more than one instance serves).
    fn default() -> Self {
        Self::new(SessionKey::generate())
    }
}

impl HttpConfig {
    /// The defaults with this session key.
    pub fn new(session_key: SessionKey) -> Self {
        Self {
            public_reads: false,
            cors_origins: Vec::new(),
            secure_cookies: true,
            session_key,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shared_cache_secs: 0,
        }
    }

    /// From the process environment; see [`HttpConfig::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&Env::process())
    }

    /// - `FLARE_SESSION_KEY` (required): at least 32 random bytes, base64. A Lambda lays its Secrets Manager
    ///   secret over the environment, so the key comes from there.
    /// - `FLARE_PUBLIC_READS`: `true` or `false` (default).
    /// - `FLARE_CORS_ORIGINS`: comma-separated origins; empty allows none.
    /// - `FLARE_SECURE_COOKIES`: `true` (default) or `false`.
    /// - `FLARE_MAX_BODY_BYTES`: the request body limit, default 65536.
    /// - `FLARE_SHARED_CACHE_SECS`: how long a CDN may serve a public answer, 0 (default) to 3600.
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        use flare_core::config::ConfigError as Var;
        let max_body_bytes = match env.optional("FLARE_MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => v
                .parse()
                .ok()
                .ok_or(Var::Invalid { name: "FLARE_MAX_BODY_BYTES", expected: "a number of bytes above 0" })?,
        };
        let cors_origins = env
            .list("FLARE_CORS_ORIGINS")
            .iter()
            .map(|o| CorsOrigin::parse(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Var::Invalid {
                name: "FLARE_CORS_ORIGINS",
                expected: "comma-separated origins like https://status.example.com, without paths",
            })?;
        let shared_cache_secs = match env.optional("FLARE_SHARED_CACHE_SECS") {
            None => 0,
            Some(v) => v.trim().parse().ok().filter(|s| *s <= 3600).ok_or(Var::Invalid {
                name: "FLARE_SHARED_CACHE_SECS",
                expected: "a number of seconds from 0 to 3600",
            })?,
        };
        Ok(Self {
            public_reads: env.flag("FLARE_PUBLIC_READS", false)?,
            cors_origins,
            secure_cookies: env.flag("FLARE_SECURE_COOKIES", true)?,
            session_key: SessionKey::from_env(env)?,
            max_body_bytes,
            shared_cache_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";

    #[test]
    fn the_session_key_does_not_print_in_the_config() {
        let config = HttpConfig::new(SessionKey::from_bytes(&[0x41; 32]).unwrap());
        let shown = format!("{config:?}");
        assert!(
            shown.contains("SessionKey(redacted)") && !shown.contains("AAAA") && !shown.contains("65, 65"),
            "{shown}"
        );
    }

    #[test]
    fn the_environment_names_a_missing_session_key() {
        let e = HttpConfig::from_lookup(&env(&[])).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_SESSION_KEY is not set"), "{e}");
    }

    #[test]
    fn the_environment_sets_every_field() {
        let c = HttpConfig::from_lookup(&env(&[
            ("FLARE_SESSION_KEY", KEY),
            ("FLARE_PUBLIC_READS", "true"),
            ("FLARE_CORS_ORIGINS", "https://a.example, https://b.example"),
            ("FLARE_SECURE_COOKIES", "false"),
            ("FLARE_MAX_BODY_BYTES", "1024"),
        ]))
        .unwrap();
        assert!(c.public_reads && !c.secure_cookies);
        let origins: Vec<&HeaderValue> = c.cors_origins.iter().map(CorsOrigin::header).collect();
        assert_eq!(origins, ["https://a.example", "https://b.example"]);
        assert_eq!(c.max_body_bytes.get(), 1024);
    }

    #[test]
    fn a_bad_cors_origin_in_the_environment_is_named() {
        let e = HttpConfig::from_lookup(&env(&[("FLARE_SESSION_KEY", KEY), ("FLARE_CORS_ORIGINS", "*")])).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_CORS_ORIGINS is not usable"), "{e}");
    }

    #[test]
    fn a_zero_body_limit_in_the_environment_is_named() {
        let e =
            HttpConfig::from_lookup(&env(&[("FLARE_SESSION_KEY", KEY), ("FLARE_MAX_BODY_BYTES", "0")])).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_MAX_BODY_BYTES is not usable"), "{e}");
    }

    #[test]
    fn cors_origins_must_be_bare_https_or_loopback_origins() {
        for ok in ["https://status.example.com", "http://localhost:3000", "https://status.example.com/"] {
            assert!(CorsOrigin::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["https://example.com/path", "http://status.example.com", "*", "https://example.com?x=1"] {
            assert!(CorsOrigin::parse(bad).is_err(), "{bad}");
        }
    }
}
