//! Who may do what: people who sign in, API keys with scopes, and the [`Actor`] recorded on every timeline
//! event. Secrets never live here in the clear: passwords are stored as a hash made by the HTTP layer, API keys
//! as the SHA-256 of a high-entropy token that is shown once.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::text::PersonName;
use crate::timefmt::serde_rfc3339;

crate::choice!(
    /// What an API key may do.
    Scope {
        /// Read incidents where reads need a key.
        IncidentsRead = "incidents:read",
        /// Open, update, resolve and reopen incidents, and add notes.
        IncidentsWrite = "incidents:write",
        /// Everything, including the catalog, users and keys.
        Admin = "admin",
    }
);

crate::choice!(
    /// The kind of principal behind a change.
    ActorKind {
        User = "user",
        ApiKey = "api_key",
        System = "system",
    }
);

/// The principal recorded on a timeline event: a user name, an API key's name, or a Flare job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
    pub name: String,
}

impl Actor {
    pub fn user(user: &User) -> Self {
        Self { kind: ActorKind::User, id: user.username.as_str().to_string(), name: user.display_name.to_string() }
    }

    pub fn api_key(key: &ApiKey) -> Self {
        Self { kind: ActorKind::ApiKey, id: key.id.clone(), name: key.name.to_string() }
    }

    /// A Flare job such as the poller, named by the code that runs it.
    pub fn system(job: &str) -> Self {
        Self { kind: ActorKind::System, id: job.to_string(), name: job.to_string() }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// A sign-in name: 1 to 64 of lowercase letters, digits, '.', '-', '_' and '@'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c);
        if s.is_empty() || s.len() > 64 || !s.chars().all(ok) {
            return Err(FieldError::new(field, "must be 1 to 64 of letters, digits, '.', '-', '_' and '@'"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("username", &s).map_err(|e| e.reason)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.0
    }
}

/// A person who signs in to the web form. Its `Debug` leaves the password hash out, so no log line can leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: Username,
    pub display_name: PersonName,
    /// A PHC-format password hash (argon2id). Never a password.
    pub password_hash: String,
    pub scopes: Vec<Scope>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: OffsetDateTime,
    pub disabled: bool,
    /// Sessions issued at or before this time are refused. Set on sign-out and on a password change: a session
    /// is a stateless signed cookie, so this is the only way to end one that has been copied. Users stored
    /// before the field existed have none.
    #[serde(default, with = "serde_rfc3339::option")]
    pub sessions_valid_after: Option<OffsetDateTime>,
}

impl User {
    /// Whether a session issued at `issued_at` may still be used.
    pub fn accepts_session_issued_at(&self, issued_at: OffsetDateTime) -> bool {
        !self.disabled && self.sessions_valid_after.is_none_or(|after| issued_at > after)
    }

    /// Ends every session issued so far. Never moves the cut-off back, so a slow clock cannot revive a session.
    pub fn end_sessions(&mut self, now: OffsetDateTime) {
        self.sessions_valid_after = Some(self.sessions_valid_after.map_or(now, |after| after.max(now)));
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("disabled", &self.disabled)
            .field("sessions_valid_after", &self.sessions_valid_after)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 of an API key's token, hex encoded: what the store keeps and looks keys up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn of_token(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API key as stored: its public id, name, scopes and the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public and not secret: shown in listings and on the timeline, used to revoke.
    pub id: String,
    pub name: PersonName,
    pub hash: ApiKeyHash,
    pub scopes: Vec<Scope>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// A new key and its token. The token is shown to the admin once and never stored.
    pub fn generate(name: PersonName, scopes: Vec<Scope>, now: OffsetDateTime) -> (Self, String) {
        let mut id = [0u8; 6];
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        rand::rng().fill_bytes(&mut secret);
        let id = format!("fk_{}", hex::encode(id));
        let token = format!("{id}.{}", hex::encode(secret));
        let key = Self { id, name, hash: ApiKeyHash::of_token(&token), scopes, created_at: now, revoked_at: None };
        (key, token)
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && (self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_hashes_to_the_stored_hash() {
        let name = PersonName::parse("name", "monitoring").unwrap();
        let (key, token) = ApiKey::generate(name, vec![Scope::IncidentsWrite], OffsetDateTime::UNIX_EPOCH);
        assert_eq!(ApiKeyHash::of_token(&token), key.hash);
        assert!(token.starts_with(&key.id));
        assert!(!key.hash.as_str().contains(&token[key.id.len() + 1..]));
    }

    #[test]
    fn admin_implies_every_scope_and_revocation_removes_all() {
        let name = PersonName::parse("name", "ops").unwrap();
        let (mut key, _) = ApiKey::generate(name, vec![Scope::Admin], OffsetDateTime::UNIX_EPOCH);
        assert!(key.allows(Scope::IncidentsWrite));
        key.revoked_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert!(!key.allows(Scope::IncidentsRead));
    }

    fn ada() -> User {
        User {
            username: Username::parse("username", "ada").unwrap(),
            display_name: PersonName::parse("name", "Ada").unwrap(),
            password_hash: "$argon2id$stub".into(),
            scopes: vec![Scope::IncidentsWrite],
            created_at: OffsetDateTime::UNIX_EPOCH,
            disabled: false,
            sessions_valid_after: None,
        }
    }

    #[test]
    fn a_user_stored_before_sessions_valid_after_existed_still_loads() {
        let mut stored = serde_json::to_value(ada()).unwrap();
        stored.as_object_mut().unwrap().remove("sessions_valid_after");
        let user: User = serde_json::from_value(stored).unwrap();
        assert_eq!(user.sessions_valid_after, None);
    }

    #[test]
    fn a_session_issued_at_or_before_the_cut_off_is_refused() {
        let cut_off = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
        let mut user = ada();
        user.end_sessions(cut_off);
        assert!(!user.accepts_session_issued_at(cut_off - time::Duration::seconds(1)));
        assert!(!user.accepts_session_issued_at(cut_off));
        assert!(user.accepts_session_issued_at(cut_off + time::Duration::nanoseconds(1)));
    }

    #[test]
    fn ending_sessions_never_moves_the_cut_off_back() {
        let cut_off = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
        let mut user = ada();
        user.end_sessions(cut_off);
        user.end_sessions(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(user.sessions_valid_after, Some(cut_off));
    }

    #[test]
    fn a_disabled_user_accepts_no_session() {
        let mut user = ada();
        user.disabled = true;
        assert!(!user.accepts_session_issued_at(OffsetDateTime::UNIX_EPOCH));
    }

    #[test]
    fn scopes_use_their_wire_names() {
        assert_eq!(serde_json::to_string(&Scope::IncidentsWrite).unwrap(), "\"incidents:write\"");
        assert_eq!(Scope::parse("scope", "admin").unwrap(), Scope::Admin);
    }
}
