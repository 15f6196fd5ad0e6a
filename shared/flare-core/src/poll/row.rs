//! One sheet row turned into the commands the form sends: open, update or close. A row that cannot be turned
//! into one names the column (as the sheet calls it) and the reason, so the help desk can fix that cell.

use super::sheet::{Column, SheetFormat, SheetRow, match_options};
use crate::catalog::System;
use crate::command::{Command, OpenIncident, ResolveIncident, UpdateIncident};
use crate::error::FieldError;
use crate::incident::{AffectedSystem, Channel, Source};
use crate::text::{Description, ExternalId, Message, PersonName, Title};
use crate::values::{Impact, Severity, TicketNumber};

/// What a row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Open,
    Update,
    Close,
}

impl Action {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "open" | "new" | "opened" => Some(Self::Open),
            "update" | "updated" => Some(Self::Update),
            "close" | "closed" | "resolve" | "resolved" => Some(Self::Close),
            _ => None,
        }
    }
}

/// What a row needs to know besides itself: its source, the sheet's format and the catalog.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    /// `sheet:<name>`.
    pub source: &'a str,
    pub format: &'a SheetFormat,
    pub catalog: &'a [System],
    /// The impact given to each system a row names: a form seldom asks for it per system.
    pub impact: Impact,
}

/// The command a row turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowCommand {
    Open(Box<OpenIncident>),
    Change(Command),
}

/// Why a row is bad: the field, as the sheet names its column, and the reason.
pub type BadRowReason = FieldError;

/// Turns a row into a command. `key` is the row's idempotency key, kept on an opened incident as its source id.
pub fn row_command(row: &SheetRow, key: &str, ctx: &RowContext<'_>) -> Result<RowCommand, BadRowReason> {
    let header = |c: Column| column_name(c);
    let action = row.get(Column::Action).ok_or_else(|| FieldError::new(header(Column::Action), "is required"))?;
    let action = Action::parse(action)
        .ok_or_else(|| FieldError::new(header(Column::Action), "must be Open, Update or Close"))?;
    let stamped = row
        .get(Column::Timestamp)
        .ok_or_else(|| FieldError::new(header(Column::Timestamp), "is required"))
        .and_then(|t| ctx.format.parse_time(header(Column::Timestamp), t))?;
    let time = |c: Column| row.get(c).map(|t| ctx.format.parse_time(header(c), t)).transpose();
    let text = |c: Column| row.get(c);
    let message = text(Column::Message).map(|m| Message::parse(header(Column::Message), m)).transpose()?;
    match action {
        Action::Open => {
            let title = Title::parse(header(Column::Title), text(Column::Title).unwrap_or_default())?;
            let description =
                Description::parse(header(Column::Description), text(Column::Description).unwrap_or(title.as_str()))?;
            let severity = Severity::parse(
                header(Column::Severity),
                text(Column::Severity).ok_or_else(|| FieldError::new(header(Column::Severity), "is required"))?,
            )?;
            let systems = systems(row, ctx)?.ok_or_else(|| FieldError::new(header(Column::Systems), "is required"))?;
            let engineer =
                text(Column::Engineer).map(|e| PersonName::parse(header(Column::Engineer), e)).transpose()?;
            let started_at = time(Column::Start)?.unwrap_or(stamped);
            let external_id = ExternalId::parse("source", &format!("{}:{key}", ctx.source))?;
            Ok(RowCommand::Open(Box::new(OpenIncident {
                title,
                description,
                severity,
                systems,
                engineer,
                engineer_email: None,
                notify_emails: Vec::new(),
                started_at: Some(started_at),
                // The form was filled in when someone noticed: that is when it was detected.
                detected_at: Some(stamped.max(started_at)),
                source: Source { channel: Channel::Sheet, external_id: Some(external_id) },
                notify: true,
            })))
        }
        Action::Update => {
            let ticket = ticket(row)?;
            let mut update = UpdateIncident::new(ticket);
            update.title = text(Column::Title).map(|t| Title::parse(header(Column::Title), t)).transpose()?;
            update.description =
                text(Column::Description).map(|d| Description::parse(header(Column::Description), d)).transpose()?;
            update.severity =
                text(Column::Severity).map(|s| Severity::parse(header(Column::Severity), s)).transpose()?;
            update.systems = systems(row, ctx)?;
            update.engineer =
                text(Column::Engineer).map(|e| PersonName::parse(header(Column::Engineer), e)).transpose()?;
            update.started_at = time(Column::Start)?;
            update.notify = message.is_some();
            update.message = message;
            Ok(RowCommand::Change(Command::Update(Box::new(update))))
        }
        Action::Close => Ok(RowCommand::Change(Command::Resolve(ResolveIncident {
            ticket: ticket(row)?,
            expected_version: None,
            resolved_at: Some(time(Column::End)?.unwrap_or(stamped)),
            message,
            root_cause: None,
            notify: true,
        }))),
    }
}

/// The field name a bad row shows for a column: the default form's question.
pub(crate) fn column_name(c: Column) -> &'static str {
    match c {
        Column::Timestamp => "Timestamp",
        Column::Action => "Action",
        Column::Ticket => "Ticket number",
        Column::Title => "Title",
        Column::Description => "Description",
        Column::Systems => "Systems",
        Column::Severity => "Severity",
        Column::Engineer => "Engineer",
        Column::Start => "Start",
        Column::End => "End",
        Column::Message => "Message",
    }
}

/// The column a command's field came from, so a refusal by the command rules names the sheet's column.
pub fn column_of_field(field: &str) -> &str {
    match field {
        "title" => "Title",
        "description" => "Description",
        "severity" => "Severity",
        "systems" => "Systems",
        "engineer" => "Engineer",
        "started_at" => "Start",
        "detected_at" => "Timestamp",
        "resolved_at" => "End",
        "message" => "Message",
        other => other,
    }
}

fn ticket(row: &SheetRow) -> Result<TicketNumber, FieldError> {
    let name = column_name(Column::Ticket);
    TicketNumber::parse(name, row.get(Column::Ticket).ok_or_else(|| FieldError::new(name, "is required"))?)
}

/// The systems a multi-select cell names, by catalog id or name; `None` when the cell is blank.
fn systems(row: &SheetRow, ctx: &RowContext<'_>) -> Result<Option<Vec<AffectedSystem>>, FieldError> {
    let Some(cell) = row.get(Column::Systems) else {
        return Ok(None);
    };
    // Each system is offered by its name and by its id; index i / 2 is the system.
    let options: Vec<&str> = ctx.catalog.iter().flat_map(|s| [s.name.as_str(), s.id.as_str()]).collect();
    let picked = match_options(cell, &options).map_err(|unknown| {
        FieldError::new(column_name(Column::Systems), format!("names an unknown system: {unknown}"))
    })?;
    let mut systems: Vec<AffectedSystem> = Vec::new();
    for i in picked {
        if let Some(s) = ctx.catalog.get(i / 2)
            && !systems.iter().any(|a| a.system == s.id)
        {
            systems.push(AffectedSystem { system: s.id.clone(), impact: ctx.impact });
        }
    }
    Ok(Some(systems))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::poll::sheet::parse_sheet;
    use crate::text::SystemName;
    use crate::values::SystemId;

    fn catalog() -> Vec<System> {
        [("email", "Email"), ("payroll-eu", "Payroll, EU"), ("vpn", "VPN")]
            .iter()
            .map(|(id, name)| System {
                id: SystemId::parse("id", id).unwrap(),
                name: SystemName::parse("name", name).unwrap(),
                owner: None,
                owner_email: None,
            })
            .collect()
    }

    fn command(csv_row: &str) -> Result<RowCommand, BadRowReason> {
        let format = SheetFormat::new("%d/%m/%Y %H:%M:%S", "Europe/London").unwrap();
        let body = format!("Timestamp,Action,Ticket number,Title,Systems,Severity,Start,End,Message\n{csv_row}\n");
        let rows = parse_sheet(body.as_bytes(), &format).unwrap();
        let catalog = catalog();
        let ctx = RowContext { source: "sheet:desk", format: &format, catalog: &catalog, impact: Impact::Degraded };
        row_command(&rows[0], "k1", &ctx)
    }

    #[test]
    fn an_open_row_becomes_an_open_command_from_the_sheet() {
        let Ok(RowCommand::Open(open)) = command("16/11/2026 08:02:11,Open,,VPN down,\"VPN, Payroll, EU\",sev2,,,")
        else {
            panic!("not an open");
        };
        assert_eq!(open.title.as_str(), "VPN down");
        assert_eq!(open.systems.iter().map(|s| s.system.as_str()).collect::<Vec<_>>(), ["vpn", "payroll-eu"]);
        assert_eq!(open.started_at, Some(datetime!(2026-11-16 08:02:11 UTC)));
        assert_eq!(open.source.channel, Channel::Sheet);
        assert_eq!(open.source.external_id.as_ref().map(|e| e.as_str()), Some("sheet:desk:k1"));
    }

    #[test]
    fn an_open_row_without_a_title_names_the_title_column() {
        let e = command("16/11/2026 08:02:11,Open,,,VPN,sev2,,,").unwrap_err();
        assert_eq!(e, FieldError::new("Title", "is required"));
    }

    #[test]
    fn an_unknown_system_is_named_in_the_reason() {
        let e = command("16/11/2026 08:02:11,Open,,Down,Coffee,sev2,,,").unwrap_err();
        assert_eq!(e, FieldError::new("Systems", "names an unknown system: Coffee"));
    }

    #[test]
    fn an_unreadable_start_names_the_start_column() {
        let e = command("16/11/2026 08:02:11,Open,,Down,VPN,sev2,31/02/2026 09:00,,").unwrap_err();
        assert_eq!(e.field, "Start");
    }

    #[test]
    fn an_unknown_action_is_refused() {
        assert_eq!(command("16/11/2026 08:02:11,Escalate,,,,,,,").unwrap_err().field, "Action");
    }

    #[test]
    fn a_close_row_resolves_at_its_end_time() {
        let Ok(RowCommand::Change(Command::Resolve(r))) =
            command("16/11/2026 10:00:00,Close,INC-7,,,,,16/11/2026 09:30:00,Fixed")
        else {
            panic!("not a resolve");
        };
        assert_eq!(r.ticket.number(), 7);
        assert_eq!(r.resolved_at, Some(datetime!(2026-11-16 09:30 UTC)));
    }

    #[test]
    fn an_update_row_without_a_ticket_names_the_ticket_column() {
        assert_eq!(command("16/11/2026 10:00:00,Update,,,,,,,More news").unwrap_err().field, "Ticket number");
    }

    #[test]
    fn an_update_with_a_message_notifies() {
        let Ok(RowCommand::Change(Command::Update(u))) = command("16/11/2026 10:00:00,update,inc-7,,,,,,More news")
        else {
            panic!("not an update");
        };
        assert!(u.notify);
        assert_eq!(u.message.map(|m| m.to_string()), Some("More news".into()));
    }
}
