//! `flare keys`: create, list and revoke API keys. A key's token is printed once, at creation; only its hash
//! is stored. The same commands work on the SQLite database and on the stack's DynamoDB table (`--table`),
//! through the access port.

use anyhow::bail;
use clap::Subcommand;
use flare_core::text::PersonName;
use flare_core::{AccessStore, ApiKey, Clock, Scope, SystemClock};

use crate::store::Backend;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print its token once.
    Create {
        /// Who or what uses the key, e.g. "monitoring".
        #[arg(long)]
        name: String,
        /// What the key may do: incidents:read, incidents:write or admin. Repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List keys, revoked ones included. Tokens are never shown again.
    List,
    /// Revoke a key by its id (the `fk_…` part shown by `list`).
    Revoke { id: String },
}

pub(crate) async fn run(backend: &Backend, command: KeysCommand) -> anyhow::Result<()> {
    let store = backend.open().await?;
    let store: &dyn AccessStore = &*store;
    let now = SystemClock.now();
    match command {
        KeysCommand::Create { name, scopes } => {
            let name = PersonName::parse("--name", &name)?;
            let scopes = scopes.iter().map(|s| Scope::parse("--scope", s)).collect::<Result<Vec<_>, _>>()?;
            let (key, token) = ApiKey::generate(name, scopes, now);
            store.create_api_key(&key).await?;
            eprintln!("Created key {} ({}). Its token is shown only now; keep it secret:", key.id, key.name);
            println!("{token}");
        }
        KeysCommand::List => {
            let keys = store.list_api_keys().await?;
            if keys.is_empty() {
                eprintln!("No API keys yet. Create one with: flare keys create --name NAME --scope incidents:write");
            }
            for key in keys {
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", flare_core::timefmt::rfc3339(at)),
                    None => "active".to_string(),
                };
                println!("{}\t{}\t{}\t{}", key.id, key.name, scopes.join(","), state);
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_api_key(&id, now).await? {
                bail!("no API key {id}: `flare keys list` shows the ids");
            }
            eprintln!("Revoked {id}.");
        }
    }
    Ok(())
}
