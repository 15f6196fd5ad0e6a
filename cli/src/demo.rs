//! `flare serve --demo`: a small catalog and a handful of incidents, so a newcomer sees a working dashboard
//! at once. Seeding is skipped when the database already holds systems, so restarting never duplicates it.

use flare_core::text::{Description, Message, PersonName, SystemName, Title};
use flare_core::{
    Actor, AffectedSystem, Channel, Command, EmailAddress, Impact, IncidentService, OpenIncident, ResolveIncident,
    Severity, Source, Status, Subscriber, System, SystemId, UpdateIncident,
};
use time::Duration;

const SYSTEMS: &[(&str, &str, &str)] = &[
    ("vpn", "Remote access VPN", "Network team"),
    ("mail", "Email", "Messaging team"),
    ("payroll", "Payroll", "HR systems"),
    ("wifi", "Office Wi-Fi", "Network team"),
    ("crm", "CRM", "Sales operations"),
];

/// Seeds the demo data unless the catalog is already populated. Returns whether it seeded.
pub(crate) async fn seed(service: &IncidentService) -> anyhow::Result<bool> {
    let store = service.store();
    if !store.list_systems().await?.is_empty() {
        return Ok(false);
    }
    for (id, name, owner) in SYSTEMS {
        let system = System {
            id: SystemId::parse("id", id)?,
            name: SystemName::parse("name", name)?,
            owner: Some(PersonName::parse("owner", owner)?),
            owner_email: None,
        };
        store.put_system(&system).await?;
        let email = EmailAddress::parse("email", &format!("{id}-users@example.com"))?;
        store.put_subscriber(&Subscriber::new(system.id, Some(email), None, None)?).await?;
    }

    let actor = Actor::system("demo");
    let now = service.clock().now();
    let incident = |title: &str, description: &str, severity, systems: &[(&str, Impact)], hours_ago: i64| {
        let systems = systems
            .iter()
            .map(|(id, impact)| Ok(AffectedSystem { system: SystemId::parse("system", id)?, impact: *impact }))
            .collect::<Result<Vec<_>, flare_core::FieldError>>();
        Ok::<_, flare_core::FieldError>(OpenIncident {
            title: Title::parse("title", title)?,
            description: Description::parse("description", description)?,
            severity,
            systems: systems?,
            engineer: Some(PersonName::parse("engineer", "Ada Lovelace")?),
            engineer_email: None,
            notify_emails: Vec::new(),
            started_at: Some(now - Duration::hours(hours_ago)),
            detected_at: None,
            source: Source::new(Channel::Cli),
            notify: false,
        })
    };

    let mut vpn = incident(
        "VPN drops remote staff every few minutes",
        "Remote staff lose their VPN connection every 5 to 10 minutes. Office staff are not affected.",
        Severity::Sev2,
        &[("vpn", Impact::PartialOutage)],
        3,
    )?;
    // The ongoing incident shows an engineer who is mailed too; example.com addresses go nowhere.
    vpn.engineer_email = Some(EmailAddress::parse("engineer_email", "ada.lovelace@example.com")?);
    let vpn = service.open(vpn, &actor, None).await?.ticket;
    let mut identified = UpdateIncident::new(vpn);
    identified.status = Some(Status::Identified);
    identified.message = Some(Message::parse("message", "A failing gateway node; traffic is moving to the spare.")?);
    service.execute(Command::Update(Box::new(identified)), &actor, None).await?;

    let mail = incident(
        "Outgoing email delayed",
        "Mail to external addresses is queued for up to an hour.",
        Severity::Sev3,
        &[("mail", Impact::Degraded)],
        30,
    )?;
    let mail = service.open(mail, &actor, None).await?.ticket;
    let resolve = ResolveIncident {
        ticket: mail,
        expected_version: None,
        resolved_at: Some(now - Duration::hours(26)),
        message: Some(Message::parse("message", "The relay's queue is drained; mail flows normally.")?),
        root_cause: None,
        notify: false,
    };
    service.execute(Command::Resolve(resolve), &actor, None).await?;

    let payroll = incident(
        "Payroll and Wi-Fi down on floor 3",
        "A switch failure on floor 3 takes down Wi-Fi there and the payroll terminals.",
        Severity::Sev1,
        &[("payroll", Impact::MajorOutage), ("wifi", Impact::MajorOutage)],
        96,
    )?;
    let payroll = service.open(payroll, &actor, None).await?.ticket;
    let resolve = ResolveIncident {
        ticket: payroll,
        expected_version: None,
        resolved_at: Some(now - Duration::hours(90)),
        message: Some(Message::parse("message", "The switch was replaced.")?),
        root_cause: None,
        notify: false,
    };
    service.execute(Command::Resolve(resolve), &actor, None).await?;
    Ok(true)
}
