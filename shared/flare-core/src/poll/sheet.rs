//! A form-responses sheet exported as CSV: which column holds which field (by header, with aliases, because
//! renaming a question renames its column), the rows as the help desk sees them numbered, local timestamps read
//! in the sheet's time zone, and multi-select cells matched against known options.
//!
//! Nothing here evaluates a cell: text that looks like a spreadsheet formula stays text.

use std::collections::HashMap;

use chrono::{LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FieldError;

/// The fields a sheet row may carry. The defaults fit a Google Form with these questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Timestamp,
    Action,
    Ticket,
    Title,
    Description,
    Systems,
    Severity,
    Engineer,
    Start,
    End,
    Message,
}

impl Column {
    pub const ALL: [Column; 11] = [
        Self::Timestamp,
        Self::Action,
        Self::Ticket,
        Self::Title,
        Self::Description,
        Self::Systems,
        Self::Severity,
        Self::Engineer,
        Self::Start,
        Self::End,
        Self::Message,
    ];

    /// The headers a default form gives this field.
    fn default_headers(self) -> &'static [&'static str] {
        match self {
            Self::Timestamp => &["Timestamp"],
            Self::Action => &["Action"],
            Self::Ticket => &["Ticket number", "Ticket"],
            Self::Title => &["Title"],
            Self::Description => &["Description"],
            Self::Systems => &["Systems", "Affected systems"],
            Self::Severity => &["Severity"],
            Self::Engineer => &["Engineer", "Responsible engineer"],
            Self::Start => &["Start", "Started at"],
            Self::End => &["End", "Ended at"],
            Self::Message => &["Message", "Update"],
        }
    }
}

/// How to read one sheet: column headers (with aliases), the timestamp format and the sheet's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetFormat {
    headers: HashMap<Column, Vec<String>>,
    /// A `strftime` format, as chrono reads it: `%m/%d/%Y %H:%M:%S` for a US sheet.
    timestamp_format: String,
    zone: Tz,
}

impl SheetFormat {
    /// The US Google Forms default: `11/16/2026 8:02:11` in the given zone.
    pub const US_FORMAT: &'static str = "%m/%d/%Y %H:%M:%S";

    /// A format with the default headers. `zone` is an IANA name such as `Europe/Berlin`.
    pub fn new(timestamp_format: &str, zone: &str) -> Result<Self, FieldError> {
        let zone = zone
            .trim()
            .parse::<Tz>()
            .map_err(|_| FieldError::new("time_zone", "must be an IANA time zone such as Europe/Berlin"))?;
        let timestamp_format = timestamp_format.trim().to_string();
        if timestamp_format.is_empty() || !timestamp_format.contains('%') {
            return Err(FieldError::new("timestamp_format", "must be a strftime format such as %d/%m/%Y %H:%M:%S"));
        }
        let headers =
            Column::ALL.iter().map(|c| (*c, c.default_headers().iter().map(|h| normalise(h)).collect())).collect();
        Ok(Self { headers, timestamp_format, zone })
    }

    /// Replaces the headers that name `column`; the first is the name bad rows use.
    pub fn with_headers(mut self, column: Column, headers: &[String]) -> Self {
        let headers: Vec<String> = headers.iter().map(|h| normalise(h)).filter(|h| !h.is_empty()).collect();
        if !headers.is_empty() {
            self.headers.insert(column, headers);
        }
        self
    }

    pub fn zone(&self) -> &str {
        self.zone.name()
    }

    /// Reads a local time in the sheet's format and zone. Accepts the format without its seconds too, since
    /// people type `16/11/2026 08:02` into a Start column.
    pub fn parse_time(&self, field: &str, raw: &str) -> Result<OffsetDateTime, FieldError> {
        let raw = raw.trim();
        let short = self.timestamp_format.replace(":%S", "");
        let local = NaiveDateTime::parse_from_str(raw, &self.timestamp_format)
            .or_else(|_| NaiveDateTime::parse_from_str(raw, &short))
            .map_err(|_| FieldError::new(field, format!("is not a time in the form {}", self.example())))?;
        let at = match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => t,
            // The hour the clocks go back happens twice; the form wrote the first, as the clock first showed it.
            LocalResult::Ambiguous(first, _) => first,
            LocalResult::None => {
                return Err(FieldError::new(
                    field,
                    format!("is a time that does not exist in {} (the clocks skip it)", self.zone.name()),
                ));
            }
        };
        OffsetDateTime::from_unix_timestamp(at.timestamp())
            .map_err(|_| FieldError::new(field, "is out of the range of dates Flare keeps"))
    }

    /// The format written out for a person: `%d/%m/%Y %H:%M:%S` reads as `dd/mm/yyyy hh:mm:ss`.
    fn example(&self) -> String {
        self.timestamp_format
            .replace("%d", "dd")
            .replace("%m", "mm")
            .replace("%Y", "yyyy")
            .replace("%H", "hh")
            .replace("%M", "mm")
            .replace("%S", "ss")
    }
}

/// One data row: its number in the sheet and its cells by field. Columns the mapping doesn't name are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// The sheet's row number: the header is row 1.
    pub number: u64,
    cells: HashMap<Column, String>,
    /// The row's raw cells in order, for its idempotency key.
    raw: Vec<String>,
}

impl SheetRow {
    /// The trimmed cell, or `None` when it is blank or the sheet has no such column.
    pub fn get(&self, column: Column) -> Option<&str> {
        self.cells.get(&column).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// The row's idempotency key: a hash of the source, its position and its content, so that the same row
    /// polled again is recognised, and an edited row counts as a new one.
    pub fn key(&self, source: &str) -> String {
        let mut text = format!("{source}\u{1f}{}", self.number);
        for cell in &self.raw {
            text.push('\u{1f}');
            text.push_str(cell);
        }
        // 32 hex digits: unique enough for one sheet's rows, and short enough for an idempotency key.
        super::sha256_hex(text.as_bytes())[..32].to_string()
    }
}

/// Why a whole sheet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("the sheet has no header row")]
    Empty,
    #[error("the sheet has no column for {0}: give its header in the column mapping")]
    MissingColumn(String),
    #[error("the sheet is not readable CSV at row {row}: {reason}")]
    Unreadable { row: u64, reason: String },
}

/// Lowercase, with runs of blanks made one space, so `Ticket  number ` matches `ticket number`.
fn normalise(header: &str) -> String {
    header.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Reads the CSV body into rows. A leading UTF-8 byte order mark is dropped, blank rows are skipped (they keep
/// their number, so the numbers match the sheet), quoted newlines stay inside their cell, and extra columns are
/// ignored. Timestamp and Action must have columns; the other fields may be absent.
pub fn parse_sheet(body: &[u8], format: &SheetFormat) -> Result<Vec<SheetRow>, SheetError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(SheetError::Empty),
        Some(Err(e)) => return Err(SheetError::Unreadable { row: 1, reason: e.to_string() }),
        Some(Ok(h)) => h,
    };
    let header: Vec<String> = header.iter().map(|h| normalise(&String::from_utf8_lossy(h))).collect();
    let mut positions = HashMap::new();
    for column in Column::ALL {
        let names = format.headers.get(&column).map(Vec::as_slice).unwrap_or_default();
        if let Some(i) = names.iter().find_map(|n| header.iter().position(|h| h == n)) {
            positions.insert(column, i);
        } else if matches!(column, Column::Timestamp | Column::Action) {
            let name = names.first().cloned().unwrap_or_else(|| format!("{column:?}").to_lowercase());
            return Err(SheetError::MissingColumn(name));
        }
    }
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let number = i as u64 + 2;
        let record = record.map_err(|e| SheetError::Unreadable { row: number, reason: e.to_string() })?;
        let raw: Vec<String> = record.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        if raw.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells = positions.iter().filter_map(|(c, &i)| raw.get(i).map(|v| (*c, v.clone()))).collect();
        rows.push(SheetRow { number, cells, raw });
    }
    Ok(rows)
}

/// Splits a multi-select cell into known options. Forms join answers with ", " (some exports with ";"), and an
/// option may itself hold a comma, so the cell is read left to right taking the longest known option that
/// ends at a separator or the end; text that matches none up to the next separator is returned as unknown.
/// Options are compared case-insensitively. Returns the indices of the matched options, in order.
pub fn match_options(cell: &str, options: &[&str]) -> Result<Vec<usize>, String> {
    let lower_cell = cell.to_lowercase();
    let lower: Vec<String> = options.iter().map(|o| o.trim().to_lowercase()).collect();
    let mut rest = lower_cell.trim_start_matches([' ', ',', ';']);
    let mut found = Vec::new();
    while !rest.is_empty() {
        let at_boundary = |tail: &str| tail.trim_start().is_empty() || tail.trim_start().starts_with([',', ';']);
        let best = lower
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.is_empty() && rest.starts_with(o.as_str()) && at_boundary(&rest[o.len()..]))
            .max_by_key(|(_, o)| o.len());
        let taken = match best {
            Some((i, o)) => {
                if !found.contains(&i) {
                    found.push(i);
                }
                o.len()
            }
            None => {
                let end = rest.find([',', ';']).unwrap_or(rest.len());
                let unknown = rest[..end].trim();
                // Report the person's own spelling, not the lowercased one.
                let start = lower_cell.len() - rest.len();
                let original = cell.get(start..start + end).map(str::trim).unwrap_or(unknown);
                return Err(original.to_string());
            }
        };
        rest = rest[taken..].trim_start_matches([' ', ',', ';']);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn us() -> SheetFormat {
        SheetFormat::new(SheetFormat::US_FORMAT, "America/New_York").unwrap()
    }

    #[test]
    fn a_us_timestamp_without_leading_zeros_is_read_in_the_sheets_zone() {
        let t = us().parse_time("Timestamp", "11/16/2026 8:02:11").unwrap();
        assert_eq!(t, datetime!(2026-11-16 13:02:11 UTC));
    }

    #[test]
    fn a_european_sheet_reads_day_before_month() {
        let f = SheetFormat::new("%d/%m/%Y %H:%M:%S", "Europe/Berlin").unwrap();
        assert_eq!(f.parse_time("Start", "03/11/2026 09:15:00").unwrap(), datetime!(2026-11-03 08:15 UTC));
    }

    #[test]
    fn a_time_without_seconds_is_accepted() {
        let f = SheetFormat::new("%d/%m/%Y %H:%M:%S", "Europe/London").unwrap();
        assert_eq!(f.parse_time("Start", "16/11/2026 08:02").unwrap(), datetime!(2026-11-16 08:02 UTC));
    }

    #[test]
    fn an_unreadable_time_names_the_field_and_the_expected_form() {
        let e = us().parse_time("Start", "yesterday").unwrap_err();
        assert_eq!(e, FieldError::new("Start", "is not a time in the form mm/dd/yyyy hh:mm:ss"));
    }

    #[test]
    fn a_time_the_clocks_skip_is_refused() {
        let e = us().parse_time("Start", "03/08/2026 2:30:00").unwrap_err();
        assert_eq!(e.reason, "is a time that does not exist in America/New_York (the clocks skip it)");
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        assert_eq!(SheetFormat::new("%d/%m/%Y", "Mars/Olympus").unwrap_err().field, "time_zone");
    }

    #[test]
    fn headers_match_by_alias_ignoring_case_and_blanks() {
        let body = b"TIMESTAMP,Action,  Ticket   number ,Title\n11/16/2026 8:02:11,Open,,VPN down\n";
        let rows = parse_sheet(body, &us()).unwrap();
        assert_eq!(rows[0].get(Column::Title), Some("VPN down"));
        assert_eq!(rows[0].get(Column::Ticket), None);
    }

    #[test]
    fn a_configured_header_replaces_the_default() {
        let f = us().with_headers(Column::Title, &["What is broken?".to_string()]);
        let rows = parse_sheet(b"Timestamp,Action,What is broken?\n1/1/2026 1:00:00,Open,Mail\n", &f).unwrap();
        assert_eq!(rows[0].get(Column::Title), Some("Mail"));
    }

    #[test]
    fn a_sheet_without_an_action_column_is_refused_naming_the_header() {
        let e = parse_sheet(b"Timestamp,Title\n", &us()).unwrap_err();
        assert_eq!(e, SheetError::MissingColumn("action".into()));
    }

    #[test]
    fn blank_rows_are_skipped_but_keep_their_number() {
        let rows = parse_sheet(b"\xEF\xBB\xBFTimestamp,Action\n,\n1/1/2026 1:00:00,Open\n", &us()).unwrap();
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [3]);
        assert_eq!(rows[0].get(Column::Timestamp), Some("1/1/2026 1:00:00"));
    }

    #[test]
    fn a_quoted_newline_stays_inside_its_cell() {
        let rows = parse_sheet(b"Timestamp,Action,Description\n1/1/2026 1:00:00,Open,\"line one\nline two\"\n", &us())
            .unwrap();
        assert_eq!(rows[0].get(Column::Description), Some("line one\nline two"));
    }

    #[test]
    fn the_row_key_changes_with_the_content_and_the_position() {
        let rows = parse_sheet(b"Timestamp,Action\n1/1/2026 1:00:00,Open\n1/1/2026 1:00:00,Open\n", &us()).unwrap();
        assert_ne!(rows[0].key("sheet:a"), rows[1].key("sheet:a"));
        assert_eq!(rows[0].key("sheet:a"), rows[0].clone().key("sheet:a"));
    }

    #[test]
    fn an_option_holding_a_comma_is_matched_whole() {
        let options = ["Email", "Payroll, EU", "Payroll"];
        assert_eq!(match_options("Payroll, EU, Email", &options), Ok(vec![1, 0]));
    }

    #[test]
    fn semicolons_separate_options_too() {
        assert_eq!(match_options("vpn;EMAIL", &["email", "vpn"]), Ok(vec![1, 0]));
    }

    #[test]
    fn an_unknown_option_is_returned_as_written() {
        assert_eq!(match_options("Email, Coffee Machine", &["Email"]), Err("Coffee Machine".to_string()));
    }
}
