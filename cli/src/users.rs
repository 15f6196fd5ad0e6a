//! `flare users`: people who sign in to the help desk's form. The password is read from standard input (so
//! it stays out of shell history and process listings) and stored only as an argon2id hash. The same commands
//! work on the SQLite database and on the stack's DynamoDB table (`--table`), through the access port.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use flare_core::text::PersonName;
use flare_core::{AccessStore, Clock, Scope, StoreError, SystemClock, User, Username};
use flare_http::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};

use crate::store::Backend;

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// The sign-in name.
        name: String,
        /// The name shown on the timeline; defaults to the sign-in name.
        #[arg(long)]
        display_name: Option<String>,
        /// Make the user an admin as well as able to open, update and close incidents.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password, read from standard input, and sign them out everywhere.
    Passwd {
        /// The sign-in name.
        name: String,
    },
    /// Refuse a user's sign-ins and end their sessions.
    Disable {
        /// The sign-in name.
        name: String,
    },
    /// Let a disabled user sign in again. Sessions ended by `disable` stay ended.
    Enable {
        /// The sign-in name.
        name: String,
    },
}

pub(crate) async fn run(backend: &Backend, command: UsersCommand) -> anyhow::Result<()> {
    // Opened before the password is asked for, so a wrong --table fails before anyone types a secret.
    let store = backend.open().await?;
    let store: &dyn AccessStore = &*store;
    match command {
        UsersCommand::Add { name, display_name, admin } => {
            let username = Username::parse("NAME", &name)?;
            let display_name = PersonName::parse("--display-name", display_name.as_deref().unwrap_or(&name))?;
            let password = read_password()?;
            // Refuses a password outside the length limits, saying which.
            let password_hash = flare_http::hash_password(&password)?;
            let mut scopes = vec![Scope::IncidentsRead, Scope::IncidentsWrite];
            if admin {
                scopes.push(Scope::Admin);
            }
            let user = User {
                username,
                display_name,
                password_hash,
                scopes,
                created_at: SystemClock.now(),
                disabled: false,
                sessions_valid_after: None,
            };
            match store.create_user(&user).await {
                Ok(()) => eprintln!("Added {}. They can sign in at /login.", user.username.as_str()),
                Err(StoreError::AlreadyExists { .. }) => bail!("{} already exists", user.username.as_str()),
                Err(e) => return Err(e.into()),
            }
        }
        UsersCommand::Passwd { name } => {
            let mut user = existing(store, &name).await?;
            let password = read_password()?;
            user.password_hash = flare_http::hash_password(&password)?;
            user.end_sessions(SystemClock.now());
            save(store, &user).await?;
            eprintln!("Changed the password of {}; they are signed out everywhere.", user.username.as_str());
        }
        UsersCommand::Disable { name } => {
            let mut user = existing(store, &name).await?;
            user.disabled = true;
            // Otherwise enabling them again would bring back every session, a stolen one included.
            user.end_sessions(SystemClock.now());
            save(store, &user).await?;
            eprintln!("Disabled {}: they cannot sign in, and their sessions have ended.", user.username.as_str());
        }
        UsersCommand::Enable { name } => {
            let mut user = existing(store, &name).await?;
            user.disabled = false;
            save(store, &user).await?;
            eprintln!("Enabled {}. They can sign in at /login.", user.username.as_str());
        }
    }
    Ok(())
}

/// The stored user named `name`, or an error saying there is none.
async fn existing(store: &dyn AccessStore, name: &str) -> anyhow::Result<User> {
    let username = Username::parse("NAME", name)?;
    match store.get_user(&username).await? {
        Some(user) => Ok(user),
        None => bail!("there is no user {}: `flare users add {}` creates one", username.as_str(), username.as_str()),
    }
}

async fn save(store: &dyn AccessStore, user: &User) -> anyhow::Result<()> {
    if !store.update_user(user).await? {
        bail!("{} was removed while this command ran; nothing was changed", user.username.as_str());
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("Password ({PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters), then Enter:");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
