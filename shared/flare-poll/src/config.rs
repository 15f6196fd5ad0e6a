//! The poller's configuration: its sheets, probes and fetch policy, read once at start-up from JSON, given
//! either inline in `FLARE_POLL_SOURCES` (how the SAM template passes its parameter) or as a file named by
//! `FLARE_POLL_FILE` (how a self-hosted install keeps it). An error names the variable, the entry and the field.
//!
//! ```json
//! {"sheets": [{"name": "helpdesk", "url": "https://docs.google.com/…/pub?output=csv",
//!              "timestamp_format": "%d/%m/%Y %H:%M:%S", "time_zone": "Europe/Berlin",
//!              "columns": {"title": ["Title", "What is broken?"]}}],
//!  "probes": [{"system": "vpn", "url": "https://vpn.example.com/health", "expected_status": 200,
//!              "body_contains": "ok", "timeout_ms": 5000}],
//!  "allowed_hosts": [], "deny_private": true, "bad_rows_to": "helpdesk@example.com"}
//! ```
//!
//! `bad_rows_to`, optional, is the help desk's address: each run mails it the rows it newly found bad.

use std::collections::HashMap;
use std::time::Duration;

use flare_core::config::Env;
use flare_core::poll::{Column, ProbeSpec, SheetFormat, Thresholds};
use flare_core::{EmailAddress, Impact, Severity, SystemId};
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use crate::fetch::FetchPolicy;

pub const SOURCES_VAR: &str = "FLARE_POLL_SOURCES";
pub const FILE_VAR: &str = "FLARE_POLL_FILE";

/// A sheet to poll.
#[derive(Debug, Clone)]
pub struct SheetSource {
    pub name: String,
    pub url: Url,
    pub format: SheetFormat,
    pub impact: Impact,
}

impl SheetSource {
    /// `sheet:<name>`: the source's key and the principal its rows are recorded under.
    pub fn source(&self) -> String {
        format!("sheet:{}", self.name)
    }
}

/// A probe to run, with its incident's severity.
#[derive(Debug, Clone)]
pub struct Probe {
    pub spec: ProbeSpec,
    pub method: Method,
    pub url: Url,
    pub severity: Severity,
}

/// Everything the poller runs.
#[derive(Debug, Clone, Default)]
pub struct PollConfig {
    pub sheets: Vec<SheetSource>,
    pub probes: Vec<Probe>,
    pub policy: FetchPolicy,
    /// The help desk's address, which gets each sheet's new bad rows (`bad_rows_to`); `None` mails nobody.
    pub bad_rows_to: Option<EmailAddress>,
}

impl PollConfig {
    pub fn is_empty(&self) -> bool {
        self.sheets.is_empty() && self.probes.is_empty()
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PollConfigError {
    #[error("{var} names {path}, which cannot be read")]
    File {
        var: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{var} is not the poller's JSON configuration")]
    Json {
        var: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{var}: {entry}: {field} {problem}")]
    Entry { var: &'static str, entry: String, field: &'static str, problem: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    sheets: Vec<RawSheet>,
    #[serde(default)]
    probes: Vec<RawProbe>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    deny_private: bool,
    #[serde(default)]
    max_bytes: Option<usize>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    bad_rows_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSheet {
    name: String,
    url: String,
    #[serde(default)]
    timestamp_format: Option<String>,
    time_zone: String,
    #[serde(default)]
    columns: HashMap<Column, Vec<String>>,
    #[serde(default)]
    impact: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    system: String,
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    expected_status: Option<u16>,
    #[serde(default)]
    body_contains: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    open_after: Option<u32>,
    #[serde(default)]
    resolve_after: Option<u32>,
    #[serde(default)]
    severity: Option<String>,
}

impl PollConfig {
    /// Reads `FLARE_POLL_SOURCES`, else the file `FLARE_POLL_FILE` names; neither set is an empty poller.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, PollConfigError> {
        if let Some(json) = env.optional(SOURCES_VAR) {
            return Self::from_json(SOURCES_VAR, &json);
        }
        let Some(path) = env.optional(FILE_VAR) else {
            return Ok(Self::default());
        };
        let json = std::fs::read_to_string(&path).map_err(|source| PollConfigError::File {
            var: FILE_VAR,
            path: path.clone(),
            source,
        })?;
        Self::from_json(FILE_VAR, &json)
    }

    /// Parses and checks the JSON; `var` is named in errors.
    pub fn from_json(var: &'static str, json: &str) -> Result<Self, PollConfigError> {
        let raw: Raw = serde_json::from_str(json).map_err(|source| PollConfigError::Json { var, source })?;
        let bad =
            |entry: String, field: &'static str, problem: String| PollConfigError::Entry { var, entry, field, problem };
        let mut policy =
            FetchPolicy { allowed_hosts: raw.allowed_hosts, deny_private: raw.deny_private, ..FetchPolicy::default() };
        if let Some(max) = raw.max_bytes {
            policy.max_bytes = max;
        }
        if let Some(ms) = raw.timeout_ms {
            if ms == 0 || ms > ProbeSpec::TIMEOUT_MAX_MS {
                return Err(bad("the policy".into(), "timeout_ms", "must be 1 to 10000".into()));
            }
            policy.timeout = Duration::from_millis(ms);
        }
        let bad_rows_to = match raw.bad_rows_to.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(
                EmailAddress::parse("bad_rows_to", a).map_err(|e| bad("the policy".into(), "bad_rows_to", e.reason))?,
            ),
        };
        let mut sheets = Vec::new();
        for (i, s) in raw.sheets.into_iter().enumerate() {
            let entry = format!("sheet {}", i + 1);
            let name_ok =
                !s.name.is_empty() && s.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok || s.name.len() > 64 {
                return Err(bad(entry, "name", "must be 1 to 64 letters, digits, '-' or '_'".into()));
            }
            let entry = format!("sheet {}", s.name);
            let url = checked_url(&policy, &s.url).map_err(|p| bad(entry.clone(), "url", p))?;
            let format =
                SheetFormat::new(s.timestamp_format.as_deref().unwrap_or(SheetFormat::US_FORMAT), &s.time_zone)
                    .map_err(|e| bad(entry.clone(), "time_zone or timestamp_format", e.reason))?;
            let format = s.columns.iter().fold(format, |f, (column, headers)| f.with_headers(*column, headers));
            let impact = match s.impact {
                None => Impact::Degraded,
                Some(i) => Impact::parse("impact", &i).map_err(|e| bad(entry.clone(), "impact", e.reason))?,
            };
            sheets.push(SheetSource { name: s.name, url, format, impact });
        }
        let mut probes = Vec::new();
        for (i, p) in raw.probes.into_iter().enumerate() {
            let entry = format!("probe {}", i + 1);
            let system = SystemId::parse("system", &p.system).map_err(|e| bad(entry.clone(), "system", e.reason))?;
            let entry = format!("probe {system}");
            let method = Method::from_bytes(p.method.as_deref().unwrap_or("GET").to_ascii_uppercase().as_bytes())
                .map_err(|_| bad(entry.clone(), "method", "must be an HTTP method".into()))?;
            let url = checked_url(&policy, &p.url).map_err(|problem| bad(entry.clone(), "url", problem))?;
            let timeout_ms = p.timeout_ms.unwrap_or(5_000);
            if timeout_ms == 0 || timeout_ms > ProbeSpec::TIMEOUT_MAX_MS {
                return Err(bad(entry, "timeout_ms", "must be 1 to 10000 (at most 10 s)".into()));
            }
            let defaults = Thresholds::default();
            let thresholds = Thresholds {
                open_after: p.open_after.unwrap_or(defaults.open_after),
                resolve_after: p.resolve_after.unwrap_or(defaults.resolve_after),
            };
            if thresholds.open_after == 0 || thresholds.resolve_after == 0 {
                return Err(bad(entry, "open_after or resolve_after", "must be at least 1".into()));
            }
            let severity = match p.severity {
                None => Severity::Sev2,
                Some(s) => Severity::parse("severity", &s).map_err(|e| bad(entry.clone(), "severity", e.reason))?,
            };
            let spec = ProbeSpec {
                system,
                method: method.to_string(),
                url: url.to_string(),
                expected_status: p.expected_status.unwrap_or(200),
                body_contains: p.body_contains.filter(|b| !b.is_empty()),
                timeout_ms,
                thresholds,
            };
            probes.push(Probe { spec, method, url, severity });
        }
        Ok(Self { sheets, probes, policy, bad_rows_to })
    }
}

/// A configured address, which the fetch policy must allow as the first hop.
fn checked_url(policy: &FetchPolicy, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|_| "cannot be parsed as a URL".to_string())?;
    policy.check(&url).map_err(|r| r.to_string())?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_and_a_probe_are_read_with_their_defaults() {
        let json = r#"{"sheets": [{"name": "desk", "url": "https://sheets.example/x.csv", "time_zone": "Europe/Berlin"}],
                       "probes": [{"system": "VPN", "url": "https://vpn.example/health"}]}"#;
        let config = PollConfig::from_json(SOURCES_VAR, json).unwrap();
        assert_eq!(config.sheets[0].source(), "sheet:desk");
        assert_eq!(config.probes[0].spec.source(), "probe:vpn");
        assert_eq!(config.probes[0].spec.thresholds, Thresholds { open_after: 3, resolve_after: 2 });
    }

    #[test]
    fn a_help_desk_address_that_is_not_one_is_refused_naming_the_field() {
        let e = PollConfig::from_json(SOURCES_VAR, r#"{"bad_rows_to": "the help desk"}"#).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_POLL_SOURCES: the policy: bad_rows_to "), "{e}");
        let config = PollConfig::from_json(SOURCES_VAR, r#"{"bad_rows_to": "desk@example.org"}"#).unwrap();
        assert_eq!(config.bad_rows_to.map(|a| a.to_string()).as_deref(), Some("desk@example.org"));
    }

    #[test]
    fn a_probe_timeout_over_ten_seconds_is_refused_naming_the_probe() {
        let json = r#"{"probes": [{"system": "vpn", "url": "https://vpn.example/", "timeout_ms": 30000}]}"#;
        let e = PollConfig::from_json(SOURCES_VAR, json).unwrap_err();
        assert_eq!(e.to_string(), "FLARE_POLL_SOURCES: probe vpn: timeout_ms must be 1 to 10000 (at most 10 s)");
    }

    #[test]
    fn a_plain_http_sheet_on_a_host_not_allowed_is_refused() {
        let json = r#"{"sheets": [{"name": "desk", "url": "http://sheets.example/x.csv", "time_zone": "UTC"}]}"#;
        let e = PollConfig::from_json(SOURCES_VAR, json).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_POLL_SOURCES: sheet desk: url sheets.example is not https"), "{e}");
    }
}
