//! Lambda glue: what a Flare function reads from its environment at cold start. Only what the first request
//! needs is read here; secrets are not logged.

use flare_core::config::{ConfigError, Env};

/// The configuration every DynamoDB-backed function needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// `FLARE_TABLE`: the table `infra/template.yaml` creates.
    pub table: String,
}

impl FunctionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self { table: env.required("FLARE_TABLE", "the name of Flare's DynamoDB table")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_name_is_required() {
        let env = Env::from_lookup(|_| None);
        let e = FunctionConfig::from(&env).unwrap_err();
        assert!(e.to_string().starts_with("FLARE_TABLE is not set"), "{e}");
    }
}
