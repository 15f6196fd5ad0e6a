//! The systems catalog: what can break, who owns it, and who wants to hear when it does.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::text::{PersonName, SystemName};
use crate::values::{EmailAddress, PhoneNumber, SystemId};

/// A system in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    pub id: SystemId,
    pub name: SystemName,
    pub owner: Option<PersonName>,
    pub owner_email: Option<EmailAddress>,
}

/// Someone who is told when a system breaks: by email, by SMS, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub system: SystemId,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub name: Option<PersonName>,
}

impl Subscriber {
    /// A subscriber needs a way to be reached.
    pub fn new(
        system: SystemId,
        email: Option<EmailAddress>,
        phone: Option<PhoneNumber>,
        name: Option<PersonName>,
    ) -> Result<Self, FieldError> {
        if email.is_none() && phone.is_none() {
            return Err(FieldError::new("email", "an email address or a phone number is required"));
        }
        Ok(Self { system, email, phone, name })
    }

    /// The subscriber's identity within its system: their email, else their phone.
    pub fn contact_key(&self) -> String {
        match (&self.email, &self.phone) {
            (Some(e), _) => format!("email:{e}"),
            (None, Some(p)) => format!("phone:{}", p.as_str()),
            (None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_lowercased() {
        assert_eq!(EmailAddress::parse("email", " Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn addresses_that_could_break_a_header_are_refused() {
        for raw in
            ["ada", "ada@localhost", "a da@example.com", "ada@example.com\r\nBcc: x@y.z", "<a@b.co>", "@example.com"]
        {
            assert!(EmailAddress::parse("email", raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn phone_numbers_are_normalised_to_e164() {
        assert_eq!(PhoneNumber::parse("phone", "+1 (415) 555-0123").unwrap().as_str(), "+14155550123");
        assert!(PhoneNumber::parse("phone", "4155550123").is_err());
    }

    #[test]
    fn a_subscriber_needs_a_contact() {
        let system = SystemId::parse("system", "vpn").unwrap();
        assert_eq!(Subscriber::new(system, None, None, None).unwrap_err().field, "email");
    }
}
