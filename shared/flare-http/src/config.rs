//! The HTTP layer's configuration: what the entry point (`flare serve`, a Lambda's `main`) reads once at start-up
//! and hands over. It owns the session key, which must never print.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use flare_core::config::Env;
use rand::RngCore;

/// The default cap on a request body: generous for a form with a long description, small enough to refuse junk.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a configuration was refused, naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] flare_core::config::ConfigError),
    #[error("the session key must be at least {min} bytes (it has {len})", min = SessionKey::MIN_LEN)]
    SessionKeyTooShort { len: usize },
    #[error("the session key must be base64 encoded")]
    SessionKeyNotBase64,
    #[error("cannot read or create the session key file {path}")]
    SessionKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CORS origin {origin:?} must look like https://host[:port], without a path")]
    BadCorsOrigin { origin: String },
    #[error("the request body limit must be more than 0 bytes")]
    ZeroBodyLimit,
}

/// The key that signs session cookies and CSRF tokens. Every instance serving the same users must share it,
/// or sessions break between them. Its `Debug` is redacted.
#[derive(Clone)]
pub struct SessionKey(Arc<[u8]>);

impl SessionKey {
    /// The shortest key accepted: as long as the HMAC-SHA256 output.
    pub const MIN_LEN: usize = 32;

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(ConfigError::SessionKeyTooShort { len: bytes.len() });
        }
        Ok(Self(bytes.into()))
    }

    /// A key given as base64 (padded or not), as `openssl rand -base64 48` prints it.
    pub fn from_base64(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .map_err(|_| ConfigError::SessionKeyNotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// A fresh random key. Sessions signed with it end when the process does.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes.as_slice().into())
    }

    /// The key kept in `path` (base64), creating the file with a new key, readable by its owner only, when it
    /// does not exist yet. This is how a self-hosted server keeps sessions across restarts.
    pub fn load_or_create(path: &Path) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::SessionKeyFile { path: path.to_path_buf(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                writeln!(file, "{}", STANDARD.encode(key.bytes())).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(redacted)")
    }
}

/// How the routers behave.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whether anyone may read incidents and systems. Otherwise reads need an API key or a signed-in user.
    pub public_reads: bool,
    /// Browser origins allowed to call the API from another site, like `https://status.example.com`.
    pub cors_origins: Vec<String>,
    /// Whether cookies are marked `Secure` (sent over HTTPS only). Off only for plain-HTTP development.
    pub secure_cookies: bool,
    pub session_key: SessionKey,
    /// Requests with a larger body are refused with 413.
    pub max_body_bytes: usize,
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
        }
    }

    /// From the process environment; see [`HttpConfig::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&Env::process())
    }

    /// - `FLARE_SESSION_KEY` (required): at least 32 random bytes, base64.
    /// - `FLARE_PUBLIC_READS`: `true` or `false` (default).
    /// - `FLARE_CORS_ORIGINS`: comma-separated origins; empty allows none.
    /// - `FLARE_SECURE_COOKIES`: `true` (default) or `false`.
    /// - `FLARE_MAX_BODY_BYTES`: the request body limit, default 65536.
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        use flare_core::config::ConfigError as Var;
        const KEY_EXPECTED: &str = "at least 32 random bytes, base64 encoded (openssl rand -base64 48)";
        let key = env.required("FLARE_SESSION_KEY", KEY_EXPECTED)?;
        let session_key = SessionKey::from_base64(&key)
            .map_err(|_| Var::Invalid { name: "FLARE_SESSION_KEY", expected: KEY_EXPECTED })?;
        let max_body_bytes = match env.optional("FLARE_MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(Var::Invalid { name: "FLARE_MAX_BODY_BYTES", expected: "a number of bytes above 0" })?,
        };
        let config = Self {
            public_reads: env.flag("FLARE_PUBLIC_READS", false)?,
            cors_origins: env.list("FLARE_CORS_ORIGINS"),
            secure_cookies: env.flag("FLARE_SECURE_COOKIES", true)?,
            session_key,
            max_body_bytes,
        };
        config.parsed_cors_origins().map_err(|_| Var::Invalid {
            name: "FLARE_CORS_ORIGINS",
            expected: "comma-separated origins like https://status.example.com, without paths",
        })?;
        Ok(config)
    }

    /// Checks what `AppState::new` would otherwise only warn about, for entry points that prefer to stop.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes == 0 {
            return Err(ConfigError::ZeroBodyLimit);
        }
        self.parsed_cors_origins().map(|_| ())
    }

    /// The CORS origins as header values, each checked to be a bare origin.
    pub(crate) fn parsed_cors_origins(&self) -> Result<Vec<HeaderValue>, ConfigError> {
        self.cors_origins.iter().map(|o| parse_origin(o)).collect()
    }
}

pub(crate) fn parse_origin(origin: &str) -> Result<HeaderValue, ConfigError> {
    let bad = || ConfigError::BadCorsOrigin { origin: origin.to_string() };
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")).ok_or_else(bad)?;
    let host_ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if !host_ok {
        return Err(bad());
    }
    HeaderValue::from_str(origin).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";

    #[test]
    fn a_short_session_key_is_refused() {
        assert!(matches!(SessionKey::from_bytes(&[1; 16]), Err(ConfigError::SessionKeyTooShort { len: 16 })));
        assert!(matches!(SessionKey::from_base64("c2hvcnQ="), Err(ConfigError::SessionKeyTooShort { len: 5 })));
        assert!(SessionKey::from_base64(KEY).is_ok());
    }

    #[test]
    fn the_session_key_does_not_print() {
        let key = SessionKey::from_bytes(&[0x41; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SessionKey(redacted)");
        let config = HttpConfig::new(key);
        assert!(!format!("{config:?}").contains("AAAA"));
    }

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("flare-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("session.key");
        let _ = std::fs::remove_file(&path);
        let first = SessionKey::load_or_create(&path).unwrap();
        let second = SessionKey::load_or_create(&path).unwrap();
        assert_eq!(first.bytes(), second.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(c.max_body_bytes, 1024);
    }

    #[test]
    fn a_bad_cors_origin_in_the_environment_is_named() {
        let e = HttpConfig::from_lookup(&env(&[("FLARE_SESSION_KEY", KEY), ("FLARE_CORS_ORIGINS", "*")])).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_CORS_ORIGINS is not usable"), "{e}");
    }

    #[test]
    fn cors_origins_must_be_bare_origins() {
        let mut config = HttpConfig {
            cors_origins: vec!["https://status.example.com".into(), "http://localhost:3000".into()],
            ..HttpConfig::default()
        };
        assert!(config.validate().is_ok());
        config.cors_origins = vec!["https://example.com/path".into()];
        assert!(config.validate().is_err());
    }
}
