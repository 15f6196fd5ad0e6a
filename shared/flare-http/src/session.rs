//! Stateless signed cookies and the CSRF tokens bound to them.
//!
//! A cookie value is `hex(payload).hex(HMAC-SHA256(key, purpose || payload))`: nothing is stored server-side, so
//! the same cookie works on every Lambda instance and on `flare serve`. Two cookies exist:
//! - the session, naming the user, when it was issued and when it expires, with a random nonce that its CSRF
//!   token is bound to. The issue time is what a user's `sessions_valid_after` is checked against, which is how
//!   sign-out and a password change end sessions that nothing on the server remembers;
//! - the pre-session, set by the login page, so that the login form has a CSRF token before anyone signs in.
//!
//! This module knows nothing of users or passwords; [`crate::auth`] and [`crate::login`] use it.

use axum::http::{HeaderMap, HeaderValue, header};
use flare_core::Username;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::config::SessionKey;

type HmacSha256 = Hmac<Sha256>;

pub(crate) const SESSION_COOKIE: &str = "flare_session";
pub(crate) const LOGIN_COOKIE: &str = "flare_login";
/// The hidden form field carrying the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";
/// The header carrying the CSRF token when a signed-in browser calls the API.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

const SESSION_TTL: Duration = Duration::hours(12);
const LOGIN_TTL: Duration = Duration::hours(2);

/// A signed-in user's session, as carried by the session cookie.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) username: Username,
    /// Kept to the nanosecond, so that a sign-in just after a sign-out is not taken for one before it.
    pub(crate) issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    nonce: String,
}

impl Session {
    pub(crate) fn start(username: Username, now: OffsetDateTime) -> Self {
        Self { username, issued_at: now, expires_at: now + SESSION_TTL, nonce: random_token() }
    }

    /// The session in the request's cookie, if it is signed by `key` and not expired. Cookies from before the
    /// issue time was carried have three fields and are refused, so their holders sign in again.
    pub(crate) fn from_headers(headers: &HeaderMap, key: &SessionKey, now: OffsetDateTime) -> Option<Self> {
        let fields = unseal(key, "session", &cookie(headers, SESSION_COOKIE)?)?;
        let [username, issued, expires, nonce] = <[String; 4]>::try_from(fields).ok()?;
        let issued_at = OffsetDateTime::from_unix_timestamp_nanos(issued.parse().ok()?).ok()?;
        let expires_at = OffsetDateTime::from_unix_timestamp(expires.parse().ok()?).ok()?;
        let username = Username::parse("username", &username).ok()?;
        (now < expires_at).then_some(Self { username, issued_at, expires_at, nonce })
    }

    pub(crate) fn set_cookie(&self, key: &SessionKey, secure: bool) -> HeaderValue {
        let issued = self.issued_at.unix_timestamp_nanos().to_string();
        let expires = self.expires_at.unix_timestamp().to_string();
        let value = seal(key, "session", &[self.username.as_str(), &issued, &expires, &self.nonce]);
        set_cookie(SESSION_COOKIE, &value, SESSION_TTL.whole_seconds(), secure)
    }

    /// The CSRF token of every form this session posts.
    pub(crate) fn csrf_token(&self, key: &SessionKey) -> String {
        hex::encode(mac(key, "csrf", self.nonce.as_bytes()))
    }

    pub(crate) fn csrf_ok(&self, key: &SessionKey, token: Option<&str>) -> bool {
        token_ok(key, "csrf", &self.nonce, token)
    }
}

/// The pre-session of the login page: a nonce the login form's CSRF token is bound to.
#[derive(Debug, Clone)]
pub(crate) struct LoginNonce {
    expires_at: OffsetDateTime,
    nonce: String,
}

impl LoginNonce {
    /// The request's pre-session if valid, else a new one (which the response must then set).
    pub(crate) fn from_headers(headers: &HeaderMap, key: &SessionKey, now: OffsetDateTime) -> Option<Self> {
        let fields = unseal(key, "login", &cookie(headers, LOGIN_COOKIE)?)?;
        let [expires, nonce] = <[String; 2]>::try_from(fields).ok()?;
        let expires_at = OffsetDateTime::from_unix_timestamp(expires.parse().ok()?).ok()?;
        (now < expires_at).then_some(Self { expires_at, nonce })
    }

    pub(crate) fn start(now: OffsetDateTime) -> Self {
        Self { expires_at: now + LOGIN_TTL, nonce: random_token() }
    }

    pub(crate) fn set_cookie(&self, key: &SessionKey, secure: bool) -> HeaderValue {
        let expires = self.expires_at.unix_timestamp().to_string();
        let value = seal(key, "login", &[&expires, &self.nonce]);
        set_cookie(LOGIN_COOKIE, &value, LOGIN_TTL.whole_seconds(), secure)
    }

    pub(crate) fn csrf_token(&self, key: &SessionKey) -> String {
        hex::encode(mac(key, "login-csrf", self.nonce.as_bytes()))
    }

    pub(crate) fn csrf_ok(&self, key: &SessionKey, token: Option<&str>) -> bool {
        token_ok(key, "login-csrf", &self.nonce, token)
    }
}

/// A `Set-Cookie` value that deletes the cookie.
pub(crate) fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", 0, secure)
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // Names are constants and values hex, so the header is always valid.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of cookie `name` in the request, if present.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// A fresh unguessable token: 128 random bits, hex encoded. Session nonces, form idempotency tokens and
/// request ids all come from here.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn keyed(key: &SessionKey, purpose: &str) -> Option<HmacSha256> {
    // HMAC takes keys of any length, so this never fails; a failure would only make every check fail.
    let mut mac = HmacSha256::new_from_slice(key.expose_bytes()).ok()?;
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    Some(mac)
}

fn mac(key: &SessionKey, purpose: &str, payload: &[u8]) -> Vec<u8> {
    keyed(key, purpose)
        .map(|mut mac| {
            mac.update(payload);
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

fn verify(key: &SessionKey, purpose: &str, payload: &[u8], signature: &[u8]) -> bool {
    keyed(key, purpose).is_some_and(|mut mac| {
        mac.update(payload);
        mac.verify_slice(signature).is_ok()
    })
}

fn token_ok(key: &SessionKey, purpose: &str, nonce: &str, token: Option<&str>) -> bool {
    token.and_then(|t| hex::decode(t.trim()).ok()).is_some_and(|sig| verify(key, purpose, nonce.as_bytes(), &sig))
}

fn seal(key: &SessionKey, purpose: &str, fields: &[&str]) -> String {
    let payload = fields.join("\n");
    format!("{}.{}", hex::encode(&payload), hex::encode(mac(key, purpose, payload.as_bytes())))
}

fn unseal(key: &SessionKey, purpose: &str, value: &str) -> Option<Vec<String>> {
    let (payload, signature) = value.split_once('.')?;
    let payload = hex::decode(payload).ok()?;
    let signature = hex::decode(signature).ok()?;
    if !verify(key, purpose, &payload, &signature) {
        return None;
    }
    let payload = String::from_utf8(payload).ok()?;
    Some(payload.split('\n').map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    fn key() -> SessionKey {
        SessionKey::from_bytes(&[7; 32]).unwrap()
    }

    fn request_with(cookie_header: &HeaderValue) -> HeaderMap {
        let cookie = cookie_header.to_str().unwrap().split(';').next().unwrap().to_string();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {cookie}")).unwrap());
        headers
    }

    fn ada() -> Username {
        Username::parse("username", "ada").unwrap()
    }

    #[test]
    fn a_session_cookie_reads_back_until_it_expires() {
        let session = Session::start(ada(), NOW);
        let headers = request_with(&session.set_cookie(&key(), true));
        assert_eq!(Session::from_headers(&headers, &key(), NOW).unwrap().username, ada());
        assert!(Session::from_headers(&headers, &key(), NOW + SESSION_TTL).is_none());
    }

    #[test]
    fn a_session_cookie_carries_its_issue_time_to_the_nanosecond() {
        let issued = NOW + Duration::nanoseconds(123_456_789);
        let headers = request_with(&Session::start(ada(), issued).set_cookie(&key(), true));
        assert_eq!(Session::from_headers(&headers, &key(), issued).unwrap().issued_at, issued);
    }

    #[test]
    fn a_session_cookie_without_an_issue_time_is_refused() {
        let expires = (NOW + SESSION_TTL).unix_timestamp().to_string();
        let old = seal(&key(), "session", &["ada", &expires, "00"]);
        let headers = request_with(&set_cookie(SESSION_COOKIE, &old, 60, true));
        assert!(Session::from_headers(&headers, &key(), NOW).is_none());
    }

    #[test]
    fn a_session_signed_with_another_key_is_refused() {
        let session = Session::start(ada(), NOW);
        let other = SessionKey::from_bytes(&[8; 32]).unwrap();
        let headers = request_with(&session.set_cookie(&other, true));
        assert!(Session::from_headers(&headers, &key(), NOW).is_none());
    }

    #[test]
    fn a_tampered_session_is_refused() {
        let session = Session::start(ada(), NOW);
        let value = session.set_cookie(&key(), true).to_str().unwrap().to_string();
        let tampered = value.replacen(&hex::encode("ada"), &hex::encode("bob"), 1);
        let headers = request_with(&HeaderValue::from_str(&tampered).unwrap());
        assert!(Session::from_headers(&headers, &key(), NOW).is_none());
    }

    #[test]
    fn a_csrf_token_is_bound_to_its_session() {
        let one = Session::start(ada(), NOW);
        let two = Session::start(ada(), NOW);
        let token = one.csrf_token(&key());
        assert!(one.csrf_ok(&key(), Some(&token)));
        assert!(!two.csrf_ok(&key(), Some(&token)));
        assert!(!one.csrf_ok(&key(), None));
        assert!(!one.csrf_ok(&key(), Some("zz")));
    }

    #[test]
    fn a_login_token_is_not_a_session_token() {
        let login = LoginNonce::start(NOW);
        let as_session =
            Session { username: ada(), issued_at: NOW, expires_at: NOW + SESSION_TTL, nonce: login.nonce.clone() };
        assert!(!login.csrf_ok(&key(), Some(&as_session.csrf_token(&key()))));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_when_asked() {
        let cookie = Session::start(ada(), NOW).set_cookie(&key(), true);
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.ends_with("; Secure"));
        let plain = Session::start(ada(), NOW).set_cookie(&key(), false);
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }
}
