//! Password hashing: argon2id with the crate's recommended parameters, stored as PHC strings. Verification takes
//! about as long whether or not the user exists, so response times do not tell who has an account.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

/// The shortest password `hash_password` accepts.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// The longest: hashing cost grows with length, and no one types more.
pub const PASSWORD_MAX_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters")]
    Length,
    #[error("hashing the password failed")]
    Hash(#[source] argon2::password_hash::Error),
}

/// The argon2id PHC string of `password`, with a fresh random salt, for `User::password_hash`.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let len = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&len) {
        return Err(PasswordError::Length);
    }
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(PasswordError::Hash)
}

/// Whether `password` matches `stored` (a PHC string). A missing or unreadable hash is checked against a dummy
/// so that the time taken is the same.
pub(crate) fn verify_password(password: &str, stored: Option<&str>) -> bool {
    if password.chars().count() > PASSWORD_MAX_CHARS {
        return false;
    }
    let parsed = stored.and_then(|s| PasswordHash::new(s).ok());
    match parsed {
        Some(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        None => {
            if let Some(hash) = dummy_hash().and_then(|s| PasswordHash::new(s).ok()) {
                let _ = Argon2::default().verify_password(password.as_bytes(), &hash);
            }
            false
        }
    }
}

/// Makes the dummy hash ahead of the first sign-in, so that the first failed attempt for an unknown user takes
/// no longer than any other. Called when the login page is shown.
pub(crate) fn warm_up() {
    let _ = dummy_hash();
}

/// A hash of a random password, made once per process with the same parameters as real hashes.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let mut secret = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
            Argon2::default().hash_password(&secret).ok().map(|h| h.to_string())
        })
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
    }

    #[test]
    fn a_missing_hash_never_verifies() {
        assert!(!verify_password("anything at all", None));
        assert!(!verify_password("anything at all", Some("not a phc string")));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash_password("short"), Err(PasswordError::Length)));
    }
}
