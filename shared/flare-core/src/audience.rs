//! Who is told about an incident by mail, and why: the subscribers of its systems, its engineer and the
//! addresses listed on it, each address once, each with the reason and unsubscribe link only they get.
//!
//! It reads the catalog; it sends nothing and records nothing. What the notice says is [`crate::notice`]'s.

use std::collections::BTreeMap;

use crate::error::StoreError;
use crate::incident::Incident;
use crate::notice::Links;
use crate::notify::Recipient;
use crate::ports::Store;
use crate::values::EmailAddress;
use crate::values::SystemId;

/// One person to mail, why, and which systems their unsubscribe link leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addressee {
    pub(crate) email: EmailAddress,
    pub(crate) systems: Vec<SystemId>,
    pub(crate) reason: String,
}

impl Addressee {
    /// The addressee as a bulk mail's recipient: their unsubscribe link and their reason.
    pub(crate) fn recipient(&self, links: &Links) -> Recipient {
        let unsubscribe = links.unsubscribe(&self.email, &self.systems);
        Recipient {
            email: self.email.clone(),
            data: BTreeMap::from([
                ("unsubscribe_url".to_string(), unsubscribe),
                ("reason".to_string(), self.reason.clone()),
            ]),
        }
    }
}

/// Everyone to mail about the incident, each address once, in address order: the subscribers of every affected
/// system (a subscriber of two systems is one addressee whose link leaves both), the engineer, and the listed
/// addresses.
pub(crate) async fn addressees(store: &dyn Store, incident: &Incident) -> Result<Vec<Addressee>, StoreError> {
    let mut by_email: BTreeMap<EmailAddress, Addressee> = BTreeMap::new();
    for affected in &incident.systems {
        let name = store
            .get_system(&affected.system)
            .await?
            .map_or_else(|| affected.system.to_string(), |s| s.name.to_string());
        for subscriber in store.subscribers(&affected.system).await? {
            let Some(email) = subscriber.email else { continue };
            let entry = by_email.entry(email.clone()).or_insert_with(|| Addressee {
                email,
                systems: vec![],
                reason: String::new(),
            });
            entry.systems.push(affected.system.clone());
            entry.reason = if entry.reason.is_empty() { name.clone() } else { format!("{}, {name}", entry.reason) };
        }
    }
    for addressee in by_email.values_mut() {
        addressee.reason = format!("you subscribe to {}", addressee.reason);
    }
    let named = incident
        .engineer_email
        .iter()
        .map(|e| (e, "you are the engineer responsible for this incident"))
        .chain(incident.notify_emails.iter().map(|e| (e, "you were listed to be told about this incident")));
    for (email, reason) in named {
        by_email.entry(email.clone()).or_insert_with(|| Addressee {
            email: email.clone(),
            systems: vec![],
            reason: reason.to_string(),
        });
    }
    Ok(by_email.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unsubscribe::UnsubscribeKey;

    #[test]
    fn a_recipient_carries_their_reason_and_an_unsubscribe_link_for_their_systems() {
        let links =
            Links::new("https://flare.example.com", UnsubscribeKey::derive(b"a test key of thirty-two bytes!!"));
        let addressee = Addressee {
            email: EmailAddress::parse("to", "ada@example.com").unwrap(),
            systems: vec![SystemId::parse("system", "vpn").unwrap()],
            reason: "you subscribe to VPN".into(),
        };
        let recipient = addressee.recipient(&links);
        assert_eq!(recipient.data["reason"], "you subscribe to VPN");
        assert!(recipient.data["unsubscribe_url"].starts_with("https://flare.example.com/unsubscribe/"));
    }
}
