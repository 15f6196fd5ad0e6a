//! The domain's value types, each parsed once at the edge and trusted inside: ticket numbers, severity, status,
//! impact, system ids, email addresses and phone numbers. They depend only on [`crate::field`] and [`crate::limits`],
//! so the incident, the catalog and the errors that name them all build on this module without depending on
//! each other.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::field::FieldError;
use crate::limits;

/// A human-friendly incident number. Displayed and parsed as `INC-<n>`, n ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketNumber(u64);

impl TicketNumber {
    pub const PREFIX: &'static str = "INC-";

    /// Wraps a number the store allocated. Zero is never allocated.
    pub fn from_number(n: u64) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }

    pub fn number(self) -> u64 {
        self.0
    }

    /// Parses `INC-1042`, case-insensitively and ignoring surrounding blanks, as an agent may type it.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new(field, format!("must be a ticket number like {}1042", Self::PREFIX));
        let s = raw.trim();
        let digits = s
            .get(..Self::PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(Self::PREFIX))
            .map(|_| &s[Self::PREFIX.len()..])
            .ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        digits.parse().ok().and_then(Self::from_number).ok_or_else(bad)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TicketNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^INC-[1-9][0-9]{0,17}$"))
            .examples(["INC-1042"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TicketNumber {}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0)
    }
}

impl FromStr for TicketNumber {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("ticket", s)
    }
}

impl Serialize for TicketNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TicketNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Declares a closed set of wire names, one spelling for JSON, forms and stores, with a parser whose error
/// lists the choices.
#[macro_export]
macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn parse(field: &str, raw: &str) -> Result<Self, $crate::error::FieldError> {
                let s = raw.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::error::FieldError::new(field, format!("must be one of {}", names.join(", ")))
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "openapi")]
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($wire),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl ::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(stringify!($name), &s).map_err(|e| serde::de::Error::custom(e.reason))
            }
        }
    };
}

choice!(
    /// How bad it is. `Sev1` is the worst.
    Severity {
        /// Critical: a core service is down for everyone.
        Sev1 = "sev1",
        /// Major: a core service is badly degraded, or a secondary one is down.
        Sev2 = "sev2",
        /// Minor: degraded with a workaround.
        Sev3 = "sev3",
        /// Low: cosmetic or a handful of people.
        Sev4 = "sev4",
    }
);

impl Impact {
    /// The impact in words, as people read it: "partial outage".
    pub fn label(self) -> &'static str {
        match self {
            Self::Degraded => "degraded performance",
            Self::PartialOutage => "partial outage",
            Self::MajorOutage => "major outage",
        }
    }
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sev1 => "critical",
            Self::Sev2 => "major",
            Self::Sev3 => "minor",
            Self::Sev4 => "low",
        }
    }
}

choice!(
    /// Where the incident is in its lifecycle: investigating → identified → monitoring → resolved, and reopen.
    Status {
        Investigating = "investigating",
        Identified = "identified",
        Monitoring = "monitoring",
        Resolved = "resolved",
    }
);

choice!(
    /// What an incident does to one system.
    Impact {
        Degraded = "degraded",
        PartialOutage = "partial_outage",
        MajorOutage = "major_outage",
    }
);

/// A system's catalog id: a lowercase slug such as `vpn` or `payroll-eu`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SystemId(String);

impl SystemId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_ascii_lowercase();
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if s.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        if s.len() > limits::SYSTEM_ID_MAX || !s.chars().all(ok_char) || s.starts_with('-') {
            return Err(FieldError::new(
                field,
                format!("must be a system id of letters, digits, '-' and '_', at most {} long", limits::SYSTEM_ID_MAX),
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for SystemId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9_][a-z0-9_-]*$"))
            .min_length(Some(1))
            .max_length(Some(limits::SYSTEM_ID_MAX))
            .description(Some("A system's catalog id: a lowercase slug such as `vpn` or `payroll-eu`."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for SystemId {}

impl TryFrom<String> for SystemId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("system", &s).map_err(|e| e.reason)
    }
}

impl From<SystemId> for String {
    fn from(s: SystemId) -> Self {
        s.0
    }
}

impl fmt::Display for SystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_number_reads_back_as_written() {
        let t = TicketNumber::parse("ticket", "INC-1042").unwrap();
        assert_eq!(t.number(), 1042);
        assert_eq!(t.to_string(), "INC-1042");
    }

    #[test]
    fn an_agent_may_type_it_in_lower_case_with_blanks() {
        assert_eq!(TicketNumber::parse("ticket", " inc-7 ").unwrap().number(), 7);
    }

    #[test]
    fn malformed_ticket_numbers_name_the_field() {
        for raw in ["", "INC-", "INC-0", "1042", "INC-12a", "INC--1", "INC-99999999999999999999", "ÍNC-1"] {
            let e = TicketNumber::parse("ticket", raw).unwrap_err();
            assert_eq!(e.field, "ticket", "{raw}");
        }
    }
}
