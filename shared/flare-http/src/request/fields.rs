//! Field values → domain types: required and optional fields, form checkboxes and times (with the form's UTC
//! offset), address lists and affected systems. Every problem is pushed onto one [`ValidationErrors`], under the
//! field's name, so a client sees all of them at once.

use flare_core::timefmt::parse_rfc3339;
use flare_core::{AffectedSystem, EmailAddress, FieldError, Impact, System, SystemId, ValidationErrors, limits};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// `true` for a ticked checkbox or a truthy form value.
pub(super) fn form_bool(errors: &mut ValidationErrors, field: &str, raw: Option<&str>) -> bool {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "false" | "off" | "0" | "no") => false,
        Some("on" | "true" | "1" | "yes") => true,
        Some(_) => {
            errors.push(field, "must be true or false");
            false
        }
    }
}

/// A form value, with blank meaning "not given".
pub(super) fn given(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An RFC 3339 time from JSON.
pub(super) fn api_time(errors: &mut ValidationErrors, field: &str, raw: Option<&str>) -> Option<OffsetDateTime> {
    raw.and_then(|r| errors.check(parse_rfc3339(field, r)))
}

/// A time from a form: RFC 3339, or a `datetime-local` value (`2026-11-22T09:30`) with the form's UTC offset
/// field (`+01:00`, `-0500`, `Z`).
pub(crate) fn form_time(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    offset: Option<&str>,
) -> Option<OffsetDateTime> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if let Ok(t) = parse_rfc3339(field, raw) {
        return Some(t);
    }
    let local = PrimitiveDateTime::parse(raw, format_description!("[year]-[month]-[day]T[hour]:[minute]"))
        .or_else(|_| {
            PrimitiveDateTime::parse(raw, format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
        })
        .or_else(|_| PrimitiveDateTime::parse(raw, format_description!("[year]-[month]-[day] [hour]:[minute]")));
    let Ok(local) = local else {
        errors.push(field, "must be a date and time like 2026-11-22T09:30");
        return None;
    };
    match parse_offset(offset.unwrap_or_default()) {
        Some(o) => Some(local.assume_offset(o).to_offset(UtcOffset::UTC)),
        None => {
            errors.push("tz_offset", "must be a UTC offset like +01:00, -05:00 or Z");
            None
        }
    }
}

pub(super) fn parse_offset(raw: &str) -> Option<UtcOffset> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = digits.get(2..).filter(|m| !m.is_empty()).map_or(Some(0), |m| m.parse().ok())?;
    // Real offsets run from -12:00 to +14:00.
    if hours > 14 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// One affected system as sent, with the field names its errors are reported under.
#[derive(Debug, Clone)]
pub(crate) struct RawSystem {
    pub(crate) system_field: String,
    pub(crate) impact_field: String,
    pub(crate) system: String,
    pub(crate) impact: String,
}

/// Parses affected systems, each of which must be in the catalog.
pub(super) fn systems(errors: &mut ValidationErrors, raw: &[RawSystem], catalog: &[System]) -> Vec<AffectedSystem> {
    raw.iter()
        .filter_map(|r| {
            let system = errors.check(SystemId::parse(&r.system_field, &r.system));
            let impact = errors.check(Impact::parse(&r.impact_field, &r.impact));
            if let Some(id) = &system
                && !catalog.iter().any(|s| &s.id == id)
            {
                errors.push(&r.system_field, format!("{id} is not a system in the catalog"));
                return None;
            }
            Some(AffectedSystem { system: system?, impact: impact? })
        })
        .collect()
}

pub(super) fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    match raw {
        Some(r) => errors.check(parse(field, r)),
        None => {
            errors.push(field, "is required");
            None
        }
    }
}

pub(super) fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    raw.and_then(|r| errors.check(parse(field, r)))
}

/// The addresses listed to be told besides the subscribers, each named `field[i]` when invalid. Past the limit
/// only the count is reported: a thousand "not an address" lines would bury it.
pub(super) fn email_list(errors: &mut ValidationErrors, field: &str, raw: &[String]) -> Vec<EmailAddress> {
    if raw.len() > limits::NOTIFY_EMAILS_MAX {
        let max = limits::NOTIFY_EMAILS_MAX;
        errors.push(field, format!("must list at most {max} addresses (it lists {})", raw.len()));
        return Vec::new();
    }
    let parsed: Vec<EmailAddress> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, r)| errors.check(EmailAddress::parse(&format!("{field}[{i}]"), r)))
        .collect();
    if parsed.len() < raw.len() {
        return parsed;
    }
    errors.check(flare_core::validate_notify_emails(field, parsed)).unwrap_or_default()
}

/// A form's address list: one text box, addresses separated by commas, semicolons or new lines.
pub(super) fn form_email_list(raw: &str) -> Vec<String> {
    raw.split([',', ';', '\n', '\r']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// What the update form's address box asks for: blank keeps the list, `none` clears it.
pub(super) fn form_email_update(raw: &Option<String>) -> Option<Vec<String>> {
    let raw = given(raw)?;
    Some(if raw.eq_ignore_ascii_case("none") { Vec::new() } else { form_email_list(raw) })
}

/// Opening, resolving and reopening tell the people affected unless the request says `"notify": false`;
/// an update tells them only when it says `"notify": true`.
pub(super) fn notify_by_default() -> bool {
    true
}

/// A version from JSON: a whole number, also when written `3.0`, which JSON (and JSON Schema) count as the same
/// integer. Anything else is refused by serde with the field's path.
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = <Option<serde_json::Number> as serde::Deserialize>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(v) = n.as_u64() {
        return Ok(Some(v));
    }
    // Integers past 2^53 are not exact as floats, so only those below are taken from one.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..EXACT).contains(&f) => Ok(Some(f as u64)),
        _ => Err(serde::de::Error::custom(format!("invalid value: {n}, expected a whole number of at least 0"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    #[test]
    fn a_local_time_takes_the_forms_offset() {
        let mut errors = ValidationErrors::new();
        let t = form_time(&mut errors, "started_at", Some("2026-11-22T10:30"), Some("+02:00"));
        assert_eq!(t, Some(datetime!(2026-11-22 08:30 UTC)));
        assert!(errors.is_empty());
    }

    #[test]
    fn an_rfc3339_time_in_a_form_keeps_its_own_offset() {
        let mut errors = ValidationErrors::new();
        let t = form_time(&mut errors, "started_at", Some("2026-11-22T10:30:00-05:00"), Some("+02:00"));
        assert_eq!(t, Some(datetime!(2026-11-22 15:30 UTC)));
    }

    #[test]
    fn offsets_are_read_as_people_write_them() {
        assert_eq!(parse_offset("Z"), Some(UtcOffset::UTC));
        assert_eq!(parse_offset("-0530"), UtcOffset::from_hms(-5, -30, 0).ok());
        assert_eq!(parse_offset("+01"), UtcOffset::from_hms(1, 0, 0).ok());
        assert_eq!(parse_offset("01:00"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }

    #[test]
    fn a_garbled_time_names_its_field() {
        let mut errors = ValidationErrors::new();
        assert_eq!(form_time(&mut errors, "resolved_at", Some("yesterday"), Some("Z")), None);
        assert_eq!(errors.0[0].field, "resolved_at");
    }

    #[test]
    fn a_forms_address_box_takes_commas_semicolons_and_lines() {
        let raw = "ada@example.com, grace@example.com;\r\n\n  linus@example.com ,";
        assert_eq!(form_email_list(raw), ["ada@example.com", "grace@example.com", "linus@example.com"]);
        assert_eq!(form_email_update(&Some(" None ".into())), Some(Vec::new()));
        assert_eq!(form_email_update(&Some("  ".into())), None);
    }

    #[test]
    fn a_version_written_as_a_whole_float_is_that_integer() {
        #[derive(serde::Deserialize)]
        struct V {
            #[serde(deserialize_with = "whole_number")]
            version: Option<u64>,
        }
        let read = |json: &str| serde_json::from_str::<V>(json).map(|v| v.version);
        assert_eq!(read(r#"{"version": 3.0}"#).unwrap(), Some(3));
        assert_eq!(read(r#"{"version": 3}"#).unwrap(), Some(3));
        assert_eq!(read(r#"{"version": null}"#).unwrap(), None);
        assert!(read(r#"{"version": 3.5}"#).is_err());
        assert!(read(r#"{"version": -1}"#).is_err());
    }

    #[test]
    fn a_bad_address_in_a_list_is_named_by_its_index() {
        let mut errors = ValidationErrors::new();
        let raw = ["ada@example.com".to_string(), "nope".to_string()];
        assert_eq!(email_list(&mut errors, "notify_emails", &raw).len(), 1);
        assert_eq!(errors.0[0].field, "notify_emails[1]");
    }
}
