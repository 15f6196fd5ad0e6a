//! Ticket numbers: `INC-1042`. Monotonic, unique and never reused; the store hands them out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;

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
