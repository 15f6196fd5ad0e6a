//! The mail that tells the help desk about a sheet's bad rows: each row in one mail, once, with its row
//! number, column and reason, and what to do about it. Rendered from `templates/poll/`; every value a person
//! typed is escaped in the HTML.

use askama::Template;

use super::BadRow;
use crate::notify::Subject;
use crate::report::{RenderError, Rendered};

#[derive(Debug)]
struct BadRowsView<'a> {
    subject: String,
    source: &'a str,
    count: usize,
    rows: &'a [BadRow],
}

#[derive(Template)]
#[template(path = "poll/bad_rows.html")]
struct Html<'a> {
    v: &'a BadRowsView<'a>,
}

#[derive(Template)]
#[template(path = "poll/bad_rows.txt")]
struct Text<'a> {
    v: &'a BadRowsView<'a>,
}

/// The mail listing `rows`, the bad rows one run of `source` found.
pub fn render_bad_rows(source: &str, rows: &[BadRow]) -> Result<Rendered, RenderError> {
    let plural = if rows.len() == 1 { "" } else { "s" };
    let subject: String =
        format!("Flare could not apply {} row{plural} of {source}", rows.len()).chars().take(200).collect();
    let subject = Subject::parse("subject", &subject).map_err(|e| RenderError::Subject(e.reason))?;
    let view = BadRowsView { subject: subject.to_string(), source, count: rows.len(), rows };
    Ok(Rendered { subject, html: Html { v: &view }.render()?, text: Text { v: &view }.render()? })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    fn bad(row: u64, field: &str, reason: &str) -> BadRow {
        let (source, key, at) = ("sheet:form".to_string(), format!("k{row}"), datetime!(2026-11-16 08:02 UTC));
        BadRow { source, row, key, field: field.into(), reason: reason.into(), at }
    }

    #[test]
    fn each_bad_row_is_listed_with_its_row_number_column_and_reason() {
        let rows =
            [bad(4, "Systems", "names \"payroll\", which is not in the catalog"), bad(9, "Title", "is required")];
        let mail = render_bad_rows("sheet:form", &rows).unwrap();
        assert_eq!(mail.subject.to_string(), "Flare could not apply 2 rows of sheet:form");
        assert!(mail.text.contains("Row 4, Systems: names \"payroll\", which is not in the catalog"), "{}", mail.text);
        assert!(mail.text.contains("Row 9, Title: is required"), "{}", mail.text);
    }

    #[test]
    fn what_a_person_typed_is_escaped_in_the_html() {
        let rows = [bad(4, "Systems", "names \"<script>alert(1)</script>\", which is not in the catalog")];
        let mail = render_bad_rows("sheet:form", &rows).unwrap();
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("&#60;script&#62;"), "{}", mail.html);
    }
}
