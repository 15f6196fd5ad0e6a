//! Secrets read at cold start from Secrets Manager, so that nothing secret sits in a function's plain
//! environment: every function reads the session key this way, the dispatcher its ticketing credentials too.
//!
//! `FLARE_SECRETS_ARN` lists one or more secrets, comma-separated, read in order (a later one wins a name both
//! hold). Each secret's `SecretString` is a JSON object of Flare variable names to string values, e.g.
//! `{"FLARE_SESSION_KEY": "…", "FLARE_SERVICENOW_PASSWORD": "…"}`. [`Secrets::over`] lays it over another
//! lookup (the process environment) as one [`Env`]: a name the secret holds is read from the secret, any other
//! from the fallback. The configuration readers (`flare_tickets::from_env`, [`crate::lambda`]) then read secrets
//! and plain settings the same way.
//!
//! Values are held as [`SecretString`]. `Debug` shows the names only, and no error carries a value.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use flare_core::config::Env;
use secrecy::{ExposeSecret, SecretString};
use tracing::{info, instrument};

use crate::client::{Limits, Service, local_sdk_config, sdk_config};

/// The variable naming the secrets: their ARNs (or names), comma-separated. Absent or blank means there is no
/// secret to read.
pub const SECRETS_ARN_VAR: &str = "FLARE_SECRETS_ARN";

/// Secrets Manager is read once, at cold start: a slow answer should fail the start rather than hang it.
const LIMITS: Limits = Limits { attempt: Duration::from_secs(3), total: Duration::from_secs(10) };

/// The Secrets Manager client Flare's functions use (see [`crate::client`]).
pub fn secrets_client() -> Client {
    Client::new(&sdk_config(Service { env: "SECRETS_MANAGER", limits: LIMITS }))
}

/// A Secrets Manager client for a local emulator at `endpoint` (moto). Tests only.
pub fn local_secrets_client(endpoint: &str) -> Client {
    Client::new(&local_sdk_config(endpoint, LIMITS))
}

/// Why the secret could not be read. Names the secret and the variable, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("Secrets Manager did not return secret {secret}")]
    Read {
        secret: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret {secret} has no SecretString: it should hold a JSON object of variable names to values")]
    NoString { secret: String },
    #[error("secret {secret} is not a JSON object of variable names to values (line {line}, column {column})")]
    NotAnObject { secret: String, line: usize, column: usize },
    #[error("secret {secret} holds a value for {name} that is not a JSON string")]
    NotAString { secret: String, name: String },
}

/// Variable names and their secret values.
#[derive(Default)]
pub struct Secrets(BTreeMap<String, SecretString>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Secrets").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

impl Secrets {
    /// The secrets named by [`SECRETS_ARN_VAR`] in `env`, or no secrets when the variable is absent. A client is
    /// built only when there is a secret to read.
    pub async fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, SecretsError> {
        let names = env.list(SECRETS_ARN_VAR);
        if names.is_empty() {
            return Ok(Self::default());
        }
        Self::load_all(&secrets_client(), &names).await
    }

    /// Reads each of `secrets` in order into one set; a later secret wins a name an earlier one also holds.
    pub async fn load_all(client: &Client, secrets: &[impl AsRef<str>]) -> Result<Self, SecretsError> {
        let mut all = Self::default();
        for secret in secrets {
            all.0.extend(Self::load(client, secret.as_ref()).await?.0);
        }
        Ok(all)
    }

    /// Reads and parses `secret` (an ARN or a name).
    #[instrument(skip_all, fields(secret = %secret))]
    pub async fn load(client: &Client, secret: &str) -> Result<Self, SecretsError> {
        let output = client
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| SecretsError::Read { secret: secret.into(), source: e.into() })?;
        let text = output.secret_string().ok_or_else(|| SecretsError::NoString { secret: secret.into() })?;
        let secrets = Self::parse(secret, text)?;
        info!(names = ?secrets.names().collect::<Vec<_>>(), "read the secret");
        Ok(secrets)
    }

    /// Parses a `SecretString`; `secret` names it in errors.
    pub fn parse(secret: &str, text: &str) -> Result<Self, SecretsError> {
        // Only the position of a JSON error is kept: its message may quote the input (`invalid type: string …`).
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| SecretsError::NotAnObject { secret: secret.into(), line: e.line(), column: e.column() })?;
        object
            .into_iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(value) => Ok((name, SecretString::from(value))),
                _ => Err(SecretsError::NotAString { secret: secret.into(), name }),
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The variable names the secret holds.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// One lookup: the secret's value for a name it holds, else `fallback`'s.
    pub fn over<'a, F>(&'a self, fallback: F) -> Env<impl Fn(&str) -> Option<String> + 'a>
    where
        F: Fn(&str) -> Option<String> + 'a,
    {
        Env::from_lookup(move |name: &str| match self.0.get(name) {
            Some(value) => Some(value.expose_secret().to_string()),
            None => fallback(name),
        })
    }

    /// The secret laid over the process environment.
    pub fn over_process_env(&self) -> Env<impl Fn(&str) -> Option<String> + '_> {
        self.over(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:flare-AbCdEf";

    fn plain(name: &str) -> Option<String> {
        match name {
            "FLARE_TICKETS" => Some("servicenow".into()),
            "FLARE_SERVICENOW_PASSWORD" => Some("from-the-environment".into()),
            _ => None,
        }
    }

    #[test]
    fn the_secret_wins_over_the_environment_for_the_names_it_holds() {
        let secrets = Secrets::parse(SECRET, r#"{"FLARE_SERVICENOW_PASSWORD": "hunter2-but-longer"}"#).unwrap();
        let env = secrets.over(plain);
        assert_eq!(env.optional("FLARE_SERVICENOW_PASSWORD").as_deref(), Some("hunter2-but-longer"));
        assert_eq!(env.optional("FLARE_TICKETS").as_deref(), Some("servicenow"));
        assert_eq!(env.optional("FLARE_JIRA_API_TOKEN"), None);
    }

    #[test]
    fn no_secret_reads_the_environment_alone() {
        let secrets = Secrets::default();
        assert_eq!(secrets.over(plain).optional("FLARE_SERVICENOW_PASSWORD").as_deref(), Some("from-the-environment"));
    }

    #[test]
    fn debug_shows_names_and_never_values() {
        let secrets = Secrets::parse(SECRET, r#"{"FLARE_SESSION_KEY": "s3cr3t-value"}"#).unwrap();
        let shown = format!("{secrets:?}");
        assert!(shown.contains("FLARE_SESSION_KEY"), "{shown}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }

    #[test]
    fn a_value_that_is_not_a_string_is_named_without_its_value() {
        let e = Secrets::parse(SECRET, r#"{"FLARE_TICKETS_ATTEMPTS": 48151623}"#).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("FLARE_TICKETS_ATTEMPTS"), "{shown}");
        assert!(!shown.contains("48151623"), "{shown}");
    }

    #[test]
    fn a_secret_that_is_not_a_json_object_is_refused_without_quoting_it() {
        for text in ["s3cr3t-value", r#""s3cr3t-value""#, r#"["s3cr3t-value"]"#, r#"{"A": "s3cr3t-value""#] {
            let e = Secrets::parse(SECRET, text).unwrap_err();
            assert!(matches!(e, SecretsError::NotAnObject { .. }), "{e:?}");
            assert!(!format!("{e} {e:?}").contains("s3cr3t-value"));
        }
    }
}
