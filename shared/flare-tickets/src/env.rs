//! The ticketing variables every vendor shares: a URL (held to the one check in [`https_or_loopback`]), a
//! bounded number, and the retry policy. The vendor modules read their own variables with these.

use std::time::Duration;

use flare_core::config::{ConfigError, Env, Url, https_or_loopback};

use crate::retry::RetryPolicy;

/// `FLARE_TICKETS_ATTEMPTS`, `_TIMEOUT_MS`, `_BACKOFF_MS` and `_RETRY_AFTER_MAX_SECS`, over the defaults.
pub(crate) fn retry<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<RetryPolicy, ConfigError> {
    let d = RetryPolicy::default();
    let attempts = number(env, "FLARE_TICKETS_ATTEMPTS", "a number of attempts from 1 to 10", 1..=10)?;
    let timeout = number(env, "FLARE_TICKETS_TIMEOUT_MS", "milliseconds from 1 to 120000", 1..=120_000)?;
    let backoff = number(env, "FLARE_TICKETS_BACKOFF_MS", "milliseconds from 0 to 60000", 0..=60_000)?;
    let retry_after = number(env, "FLARE_TICKETS_RETRY_AFTER_MAX_SECS", "seconds from 0 to 3600", 0..=3600)?;
    Ok(RetryPolicy {
        attempts: attempts.map_or(d.attempts, |n| n as u32),
        timeout: timeout.map_or(d.timeout, Duration::from_millis),
        backoff: backoff.map_or(d.backoff, Duration::from_millis),
        max_retry_after: retry_after.map_or(d.max_retry_after, Duration::from_secs),
    })
}

/// An https URL (http only on a loopback host) that carries no credentials.
pub(crate) fn url<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    name: &'static str,
    expected: &'static str,
) -> Result<Url, ConfigError> {
    https_or_loopback(&env.required(name, expected)?).map_err(|_| ConfigError::Invalid { name, expected })
}

pub(crate) fn number<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    name: &'static str,
    expected: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    env.optional(name)
        .map(|raw| raw.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or(ConfigError::Invalid { name, expected }))
        .transpose()
}
