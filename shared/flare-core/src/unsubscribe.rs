//! Unsubscribe links: a signed token naming one address and the systems it is to stop hearing about.
//!
//! Every mass mail carries one per recipient. The token is the address and the systems, base64url encoded, a dot,
//! and an HMAC-SHA256 tag over them (128 bits), so it cannot be guessed or altered, and `GET /unsubscribe/{token}`
//! needs no sign-in. The key is derived from the deployment's session secret under its own purpose, so a token
//! is never valid as a cookie or the other way round.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::limits;
use crate::values::EmailAddress;
use crate::values::SystemId;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the tag kept in a token: 128 bits is unguessable and keeps links short.
const TAG_LEN: usize = 16;
/// The longest token accepted: an address and every system of one incident, encoded.
pub const TOKEN_MAX: usize = 4_096;

/// The key unsubscribe tokens are signed with.
#[derive(Clone)]
pub struct UnsubscribeKey([u8; 32]);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(..)")
    }
}

/// What a valid token asks for: stop mailing `email` about `systems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub email: EmailAddress,
    pub systems: Vec<SystemId>,
}

/// A token that is malformed, altered or signed with another key. Deliberately says no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this unsubscribe link is not valid")]
pub struct InvalidToken;

impl UnsubscribeKey {
    /// The key for unsubscribe tokens, derived from the deployment's secret (the session key).
    pub fn derive(secret: &[u8]) -> Self {
        Self(tag(secret, b"flare unsubscribe v1"))
    }

    /// A token for `email` to leave `systems`.
    pub fn sign(&self, email: &EmailAddress, systems: &[SystemId]) -> String {
        let names: Vec<&str> = systems.iter().map(SystemId::as_str).collect();
        let payload = format!("{email}\n{}", names.join(","));
        let tag = tag(&self.0, payload.as_bytes());
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN]))
    }

    /// What `token` asks for, when this key signed it.
    pub fn verify(&self, token: &str) -> Result<Unsubscribe, InvalidToken> {
        if token.len() > TOKEN_MAX {
            return Err(InvalidToken);
        }
        let (payload, signature) = token.split_once('.').ok_or(InvalidToken)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidToken)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| InvalidToken)?;
        let mut mac = HmacSha256::new_from_slice(&self.0).map_err(|_| InvalidToken)?;
        mac.update(&payload);
        mac.verify_truncated_left(&signature).map_err(|_| InvalidToken)?;
        if signature.len() != TAG_LEN {
            return Err(InvalidToken);
        }
        let payload = String::from_utf8(payload).map_err(|_| InvalidToken)?;
        let (email, systems) = payload.split_once('\n').ok_or(InvalidToken)?;
        let email = EmailAddress::parse("email", email).map_err(|_| InvalidToken)?;
        let systems = systems
            .split(',')
            .filter(|s| !s.is_empty())
            .take(limits::SYSTEMS_MAX)
            .map(|s| SystemId::parse("system", s).map_err(|_| InvalidToken))
            .collect::<Result<_, _>>()?;
        Ok(Unsubscribe { email, systems })
    }
}

fn tag(key: &[u8], payload: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> UnsubscribeKey {
        UnsubscribeKey::derive(&[7; 32])
    }

    fn ids(names: &[&str]) -> Vec<SystemId> {
        names.iter().map(|n| SystemId::parse("system", n).unwrap()).collect()
    }

    #[test]
    fn a_signed_token_verifies_to_what_it_was_signed_for() {
        let email = EmailAddress::parse("email", "ada+it@example.com").unwrap();
        let token = key().sign(&email, &ids(&["vpn", "mail"]));
        assert!(token.len() < 120, "{token}");
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "URL-safe: {token}");
        assert_eq!(key().verify(&token).unwrap(), Unsubscribe { email, systems: ids(&["vpn", "mail"]) });
    }

    #[test]
    fn an_altered_token_or_another_key_is_refused() {
        let email = EmailAddress::parse("email", "ada@example.com").unwrap();
        let token = key().sign(&email, &ids(&["vpn"]));
        let other = UnsubscribeKey::derive(&[8; 32]);
        assert_eq!(other.verify(&token), Err(InvalidToken));
        let (payload, tag) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode("bob@example.com\nvpn");
        assert_eq!(key().verify(&format!("{forged}.{tag}")), Err(InvalidToken));
        assert_eq!(key().verify(&format!("{payload}.{}", &tag[..4])), Err(InvalidToken), "a shortened tag");
        assert_eq!(key().verify(payload), Err(InvalidToken));
        assert_eq!(key().verify(&"a".repeat(TOKEN_MAX + 1)), Err(InvalidToken));
    }
}
