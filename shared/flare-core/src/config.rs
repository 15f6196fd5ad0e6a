//! Typed configuration from environment variables, read once at start-up. An error names the variable and
//! says what it should hold, so whoever deploys Flare can fix it without reading code.
//!
//! It also owns the one check every configured address passes ([`https_or_loopback`]): the public URL, CORS
//! origins, chat webhooks.

use std::net::IpAddr;

pub use url::Url;

/// A variable that is missing or cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: it should hold {expected}")]
    Missing { name: &'static str, expected: &'static str },
    #[error("{name} is not usable: it should hold {expected}")]
    Invalid { name: &'static str, expected: &'static str },
    /// One entry of a list is wrong. The entry is named by its position (from 1), never by its text, which may
    /// hold a token; the problem is fixed text, so the error holds nothing built at run time.
    #[error("{name} is not usable: it should hold {expected}, but entry {number} {problem}")]
    Entry { name: &'static str, expected: &'static str, number: usize, problem: &'static str },
}

/// Parses a configured address: `https`, or plain `http` only on a loopback host (`localhost`, `127.0.0.0/8`,
/// `::1`) for development and tests, with a host and no user name or password. The error says what is wrong
/// without repeating the text, which may embed a token.
pub fn https_or_loopback(text: &str) -> Result<Url, &'static str> {
    let text = text.trim();
    // `https:///path` parses with `path` as its host; an address written that way has none.
    if text.split_once("://").is_none_or(|(_, rest)| rest.is_empty() || rest.starts_with('/')) {
        return Err("has no host");
    }
    let url = Url::parse(text).map_err(|_| "cannot be parsed as a URL")?;
    let loopback = match url.host() {
        None => return Err("has no host"),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("is not https (http is allowed only for a loopback host)"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has a user name or password");
    }
    Ok(url)
}

/// Reads variables through a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(F);

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn from_lookup(lookup: F) -> Self {
        Env(lookup)
    }

    /// A variable that may be absent; blank counts as absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str, expected: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name, expected })
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), or `default` when absent.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(ConfigError::Invalid { name, expected: "true or false" }),
        }
    }

    /// A comma-separated list; absent is empty.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }
}

impl<F: Fn(&str) -> Option<String>> std::fmt::Debug for Env<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn a_missing_variable_is_named_with_what_it_should_hold() {
        let e = env(&[]).required("FLARE_TABLE", "the DynamoDB table name").unwrap_err();
        assert_eq!(e.to_string(), "FLARE_TABLE is not set: it should hold the DynamoDB table name");
    }

    #[test]
    fn a_blank_variable_counts_as_missing() {
        assert!(env(&[("FLARE_TABLE", "  ")]).required("FLARE_TABLE", "a name").is_err());
    }

    #[test]
    fn flags_read_true_and_false_and_refuse_anything_else() {
        let e = env(&[("A", "TRUE"), ("B", "0"), ("C", "maybe")]);
        assert_eq!(e.flag("A", false), Ok(true));
        assert_eq!(e.flag("B", true), Ok(false));
        assert_eq!(e.flag("D", true), Ok(true));
        assert!(e.flag("C", true).is_err());
    }

    #[test]
    fn https_addresses_pass_and_plain_http_only_on_loopback() {
        for ok in ["https://flare.example.com", "http://localhost:3000", "http://127.0.0.1:9/x", "http://[::1]:9"] {
            assert!(https_or_loopback(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://flare.example.com", "is not https"),
            ("http://localhost.example.org", "is not https"),
            ("ftp://localhost", "is not https"),
            ("https:///incidents", "has no host"),
            ("https://user:SECRET@flare.example.com", "has a user name or password"),
            ("not a url", "has no host"),
            ("https://exa mple.com", "cannot be parsed"),
        ] {
            let problem = https_or_loopback(bad).unwrap_err();
            assert!(problem.starts_with(why), "{bad}: {problem}");
        }
    }

    #[test]
    fn a_bad_list_entry_is_named_by_number_with_no_text_built_at_run_time() {
        let e = ConfigError::Entry { name: "LIST", expected: "a=b pairs", number: 2, problem: "is not a=b" };
        assert_eq!(e.to_string(), "LIST is not usable: it should hold a=b pairs, but entry 2 is not a=b");
    }

    #[test]
    fn lists_split_on_commas_and_drop_blanks() {
        let e = env(&[("ORIGINS", "https://a.example, ,https://b.example")]);
        assert_eq!(e.list("ORIGINS"), vec!["https://a.example", "https://b.example"]);
    }
}
