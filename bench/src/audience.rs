//! The `notify-cost` audience: people subscribed to the systems an incident affects, with overlap, so that the
//! dispatcher has duplicates to fold into one mail each. Loaded through the store's catalog port, as an admin
//! would add them, never by writing items directly.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, ensure};
use flare_aws::DynamoStore;
use flare_core::text::SystemName;
use flare_core::{CatalogStore, EmailAddress, Subscriber, System, SystemId};
use futures::{StreamExt, TryStreamExt};

/// Every this-many-th person also subscribes to the next system.
pub const SECOND_SYSTEM_EVERY: usize = 10;

/// The systems, the subscriptions to them, and who that makes: each address with the systems it follows.
#[derive(Debug, Clone)]
pub struct Audience {
    pub systems: Vec<System>,
    pub subscriptions: Vec<Subscriber>,
    pub people: BTreeMap<EmailAddress, Vec<SystemId>>,
}

impl Audience {
    /// `people` addresses spread round-robin over `systems` systems; every [`SECOND_SYSTEM_EVERY`]th person
    /// also follows the next system (when there is one), so `people` addresses make more subscriptions.
    pub fn new(people: usize, systems: usize) -> anyhow::Result<Self> {
        ensure!(people > 0, "at least one recipient is needed");
        ensure!(systems > 0, "at least one system is needed");
        let systems: Vec<System> = (0..systems)
            .map(|n| {
                Ok(System {
                    id: SystemId::parse("system", &format!("bench-app-{n}"))?,
                    name: SystemName::parse("name", &format!("Benchmark application {n}"))?,
                    owner: None,
                    owner_email: None,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let mut subscriptions = Vec::new();
        let mut by_person = BTreeMap::new();
        for i in 0..people {
            let email = EmailAddress::parse("email", &format!("person{i:06}@subscribers.example.org"))?;
            let mut follows = vec![systems[i % systems.len()].id.clone()];
            if systems.len() > 1 && i % SECOND_SYSTEM_EVERY == 0 {
                follows.push(systems[(i + 1) % systems.len()].id.clone());
            }
            for system in &follows {
                subscriptions.push(Subscriber::new(system.clone(), Some(email.clone()), None, None)?);
            }
            by_person.insert(email, follows);
        }
        Ok(Self { systems, subscriptions, people: by_person })
    }

    /// Writes the systems, then every subscription, `concurrency` at a time. Returns how long it took.
    pub async fn load(&self, store: &DynamoStore, concurrency: usize) -> anyhow::Result<Duration> {
        let started = std::time::Instant::now();
        for system in &self.systems {
            store.put_system(system).await.with_context(|| format!("put system {}", system.id))?;
        }
        futures::stream::iter(&self.subscriptions)
            .map(|s| async move {
                store.put_subscriber(s).await.with_context(|| format!("subscribe {:?} to {}", s.email, s.system))
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await?;
        Ok(started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenth_person_follows_two_systems_and_is_still_one_person() {
        let audience = Audience::new(100, 3).unwrap();
        assert_eq!(audience.people.len(), 100);
        assert_eq!(audience.subscriptions.len(), 110);
        assert!(audience.people.values().all(|s| !s.is_empty() && s.len() <= 2));
    }

    #[test]
    fn one_system_has_no_overlap() {
        let audience = Audience::new(20, 1).unwrap();
        assert_eq!(audience.subscriptions.len(), 20);
    }
}
