//! The systems catalog: what can break, who owns it, and who wants to hear when it does.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::incident::SystemId;
use crate::limits;
use crate::text::{PersonName, SystemName};

/// An email address, checked for the shape mail servers accept: one '@', a dotted domain, no blanks or
/// characters that could break a header. Stored lowercased, so the same person is one subscriber.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let bad = || FieldError::new(field, "must be an email address like name@example.com");
        if s.is_empty() || s.len() > limits::EMAIL_MAX {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok { Ok(Self(s)) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("email", &s).map_err(|e| e.reason)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> Self {
        e.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+` and 8 to 15 digits), as SNS needs for SMS. Spaces, dashes, dots and
/// brackets that people type are dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s: String = raw.trim().chars().filter(|c| !" -.()".contains(*c)).collect();
        let digits = s.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0') {
            Ok(Self(s))
        } else {
            Err(FieldError::new(field, "must be an international phone number like +14155550123"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("phone", &s).map_err(|e| e.reason)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> Self {
        p.0
    }
}

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
