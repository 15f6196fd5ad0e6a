//! Bounded, trimmed text. A [`Line`] is one line (titles, names: they reach mail subjects, so no line breaks);
//! a [`Paragraph`] may span lines (descriptions, messages). Both refuse empty input and control characters, and
//! count length in characters, not bytes, so the limit an agent reads is the one enforced.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;
use crate::limits;

fn parse_text(field: &str, raw: &str, max: usize, multiline: bool) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    let len = s.chars().count();
    if len > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters (it has {len})")));
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\t' || c == '\r'));
    if let Some(c) = s.chars().find(|&c| !allowed(c)) {
        let what = if c == '\n' || c == '\r' {
            "a line break".to_string()
        } else {
            format!("control character U+{:04X}", c as u32)
        };
        return Err(FieldError::new(field, format!("must not contain {what}")));
    }
    Ok(if multiline { s.replace("\r\n", "\n") } else { s.to_string() })
}

/// Trimmed text of 1 to `MAX` characters; `MULTILINE` texts may span lines (CRLF is stored as LF).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text<const MAX: usize, const MULTILINE: bool>(String);

/// One line: titles and names, which reach mail subjects.
pub type Line<const MAX: usize> = Text<MAX, false>;
/// Text that may span lines: descriptions and messages.
pub type Paragraph<const MAX: usize> = Text<MAX, true>;

impl<const MAX: usize, const MULTILINE: bool> Text<MAX, MULTILINE> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        parse_text(field, raw, MAX, MULTILINE).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize, const MULTILINE: bool> fmt::Display for Text<MAX, MULTILINE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize, const MULTILINE: bool> AsRef<str> for Text<MAX, MULTILINE> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize, const MULTILINE: bool> Serialize for Text<MAX, MULTILINE> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize, const MULTILINE: bool> Deserialize<'de> for Text<MAX, MULTILINE> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_text("text", &s, MAX, MULTILINE).map(Self).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

pub type Title = Line<{ limits::TITLE_MAX }>;
pub type PersonName = Line<{ limits::PERSON_MAX }>;
pub type SystemName = Line<{ limits::SYSTEM_NAME_MAX }>;
pub type ExternalId = Line<{ limits::EXTERNAL_ID_MAX }>;
pub type FollowUp = Line<{ limits::FOLLOW_UP_MAX }>;
pub type Description = Paragraph<{ limits::DESCRIPTION_MAX }>;
pub type Message = Paragraph<{ limits::MESSAGE_MAX }>;
pub type RootCause = Paragraph<{ limits::ROOT_CAUSE_MAX }>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed() {
        assert_eq!(Title::parse("title", "  VPN down \t").unwrap().as_str(), "VPN down");
    }

    #[test]
    fn empty_text_is_required() {
        assert_eq!(Title::parse("title", "   ").unwrap_err().reason, "is required");
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        assert!(Title::parse("title", &"é".repeat(200)).is_ok());
        let e = Title::parse("title", &"é".repeat(201)).unwrap_err();
        assert_eq!(e.reason, "must be at most 200 characters (it has 201)");
    }

    #[test]
    fn a_title_cannot_carry_a_line_break_into_a_mail_subject() {
        let e = Title::parse("title", "VPN\r\nBcc: everyone@example.com").unwrap_err();
        assert_eq!(e.reason, "must not contain a line break");
    }

    #[test]
    fn a_description_keeps_its_lines() {
        let d = Description::parse("description", "line one\r\nline two").unwrap();
        assert_eq!(d.as_str(), "line one\nline two");
    }

    #[test]
    fn control_characters_are_refused() {
        let e = Description::parse("description", "bell\u{7}").unwrap_err();
        assert_eq!(e.reason, "must not contain control character U+0007");
    }
}
