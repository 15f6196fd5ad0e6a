//! The deployment's session key, and the one place keys are derived from it.
//!
//! It owns the key's one decoder (base64, padded or not), its one minimum length, and reading it from
//! `FLARE_SESSION_KEY` or from a key file. The HTTP layer signs cookies and CSRF tokens with it; the unsubscribe
//! key is derived from it here ([`SessionKey::unsubscribe_key`]), so the dispatcher that signs links and the page
//! that verifies them agree without a second secret. The bytes sit in a `secrecy` box: `Debug` never shows them
//! and they are zeroed when dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};

use crate::config::{ConfigError, Env};
use crate::unsubscribe::UnsubscribeKey;

/// The variable holding the key, base64, in every deployment that does not keep it in a file.
pub const SESSION_KEY_VAR: &str = "FLARE_SESSION_KEY";
const SESSION_KEY_EXPECTED: &str = "at least 32 random bytes, base64 encoded (openssl rand -base64 48)";

/// Why a session key was refused. Never carries the key or its text.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("the session key must be at least {min} bytes (it has {len})", min = SessionKey::MIN_LEN)]
    TooShort { len: usize },
    #[error("the session key must be base64 encoded")]
    NotBase64,
    #[error("cannot read or create the session key file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The key that signs session cookies and CSRF tokens, and from which the unsubscribe key is derived. Every
/// instance serving the same users must share it, or sessions break between them. Cheap to clone.
#[derive(Clone)]
pub struct SessionKey(Arc<SecretSlice<u8>>);

impl SessionKey {
    /// The shortest key accepted: as long as the HMAC-SHA256 output.
    pub const MIN_LEN: usize = 32;

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SessionKeyError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(SessionKeyError::TooShort { len: bytes.len() });
        }
        Ok(Self(Arc::new(SecretSlice::from(bytes.to_vec()))))
    }

    /// A key given as base64 (padded or not), as `openssl rand -base64 48` prints it.
    pub fn from_base64(text: &str) -> Result<Self, SessionKeyError> {
        let text = text.trim();
        let bytes =
            STANDARD.decode(text).or_else(|_| STANDARD_NO_PAD.decode(text)).map_err(|_| SessionKeyError::NotBase64)?;
        let key = Self::from_bytes(&bytes);
        // The decoded copy is the only one outside the box.
        drop(SecretSlice::from(bytes));
        key
    }

    /// `FLARE_SESSION_KEY` from `env` (the process environment, or a Secrets Manager secret laid over it).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let text = env.required(SESSION_KEY_VAR, SESSION_KEY_EXPECTED)?;
        Self::from_base64(&text)
            .map_err(|_| ConfigError::Invalid { name: SESSION_KEY_VAR, expected: SESSION_KEY_EXPECTED })
    }

    /// A fresh random key. Sessions signed with it end when the process does.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        Self(Arc::new(SecretSlice::from(bytes)))
    }

    /// The key kept in `path` (base64), creating the file with a new key, readable by its owner only, when it
    /// does not exist yet. This is how a self-hosted server keeps sessions across restarts.
    pub fn load_or_create(path: &Path) -> Result<Self, SessionKeyError> {
        let io = |source| SessionKeyError::File { path: path.to_path_buf(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                writeln!(file, "{}", STANDARD.encode(key.expose_bytes())).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key that signs and verifies unsubscribe links: derived from this key under its own purpose, so a
    /// link is never valid as a cookie, nor the other way round.
    pub fn unsubscribe_key(&self) -> UnsubscribeKey {
        UnsubscribeKey::derive(self.expose_bytes())
    }

    /// The raw key, for the MACs that sign with it. Keep it out of logs and errors.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 48 bytes, base64.
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn a_short_session_key_is_refused() {
        assert!(matches!(SessionKey::from_bytes(&[1; 16]), Err(SessionKeyError::TooShort { len: 16 })));
        assert!(matches!(SessionKey::from_base64("c2hvcnQ="), Err(SessionKeyError::TooShort { len: 5 })));
        assert!(SessionKey::from_base64(KEY).is_ok());
    }

    #[test]
    fn a_key_decodes_with_or_without_padding() {
        let padded = SessionKey::from_base64("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB").unwrap();
        let bare = SessionKey::from_base64("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB").unwrap();
        assert_eq!(padded.expose_bytes(), bare.expose_bytes());
        assert!(matches!(SessionKey::from_base64("not base64!"), Err(SessionKeyError::NotBase64)));
    }

    #[test]
    fn the_session_key_does_not_print() {
        let key = SessionKey::from_bytes(&[0x41; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SessionKey(redacted)");
    }

    #[test]
    fn the_environment_names_a_missing_or_unusable_session_key() {
        let missing = SessionKey::from_env(&env(&[])).unwrap_err();
        assert!(missing.to_string().starts_with("FLARE_SESSION_KEY is not set"), "{missing}");
        let short = SessionKey::from_env(&env(&[(SESSION_KEY_VAR, "c2hvcnQ=")])).unwrap_err();
        assert!(short.to_string().starts_with("FLARE_SESSION_KEY is not usable"), "{short}");
        assert!(!short.to_string().contains("c2hvcnQ"), "{short}");
    }

    #[test]
    fn the_unsubscribe_key_is_derived_from_the_session_key_alone() {
        let email = crate::EmailAddress::parse("email", "ada@example.org").unwrap();
        let token = SessionKey::from_base64(KEY).unwrap().unsubscribe_key().sign(&email, &[]);
        assert!(SessionKey::from_base64(KEY).unwrap().unsubscribe_key().verify(&token).is_ok());
        assert!(SessionKey::from_bytes(&[9; 32]).unwrap().unsubscribe_key().verify(&token).is_err());
    }

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("flare-core-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("session.key");
        let _ = std::fs::remove_file(&path);
        let first = SessionKey::load_or_create(&path).unwrap();
        let second = SessionKey::load_or_create(&path).unwrap();
        assert_eq!(first.expose_bytes(), second.expose_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
