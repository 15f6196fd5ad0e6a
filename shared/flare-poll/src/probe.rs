//! One check of one probe: make the request, judge the answer, record the result (kept, bounded, readable),
//! and let the state machine in `flare_core::poll` decide whether to open, update or resolve the system's
//! incident through the incident service, as the probe's own principal.

use flare_core::poll::{CheckOutcome, ProbeCheck, ProbeDecision, SourceState};
use flare_core::text::{Description, Message, Title};
use flare_core::{
    Actor, AddNote, AffectedSystem, Channel, Command, DomainError, Impact, IncidentService, OpenIncident,
    ResolveIncident, Source,
};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::PollError;
use crate::config::Probe;
use crate::fetch::{FetchError, FetchRequest, Fetcher};

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeReport {
    pub ok: bool,
    pub reason: Option<String>,
    /// `opened`, `updated`, `resolved` or `none`.
    pub action: &'static str,
}

pub(crate) async fn run(service: &IncidentService, fetcher: &Fetcher, probe: &Probe) -> Result<ProbeReport, PollError> {
    let store = service.store();
    let source = probe.spec.source();
    let mut state = store.poll_source(&source).await?.unwrap_or_else(|| SourceState::new(&source));
    let mut machine = state.probe.take().unwrap_or_default();

    let started = Instant::now();
    let (outcome, status) = check(fetcher, probe).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let now = service.clock().now();
    let decision = machine.observe(&outcome, probe.spec.thresholds);
    let reason = match &outcome {
        CheckOutcome::Up => None,
        CheckOutcome::Down(r) => Some(r.clone()),
    };
    store
        .record_check(&ProbeCheck {
            source: source.clone(),
            seq: machine.checks,
            at: now,
            ok: reason.is_none(),
            status,
            elapsed_ms,
            reason: reason.clone(),
        })
        .await?;

    let actor = Actor::system(&source);
    let action = match decision {
        ProbeDecision::Nothing => "none",
        ProbeDecision::Open { reason, attempt } => {
            let open = open_command(service, probe, &reason).await?;
            let committed =
                service.open(open, &actor, Some(&format!("open-{attempt}"))).await.map_err(PollError::Domain)?;
            machine.opened_as(committed.ticket);
            info!(source = %source, ticket = %committed.ticket, reason = %reason, "probe opened an incident");
            "opened"
        }
        ProbeDecision::Update { ticket, reason } => {
            let message = Message::parse("message", &format!("The health check now fails: {reason}."))
                .map_err(|e| PollError::Domain(flare_core::ValidationErrors::from(e).into()))?;
            let note = Command::Note(AddNote { ticket, expected_version: None, message });
            match service.execute(note, &actor, None).await {
                Ok(_) => "updated",
                // Someone closed it by hand: the probe stops following it.
                Err(DomainError::NotFound(_)) => {
                    machine.resolved();
                    "none"
                }
                Err(e) => return Err(PollError::Domain(e)),
            }
        }
        ProbeDecision::Resolve { ticket } => {
            let message = Message::parse(
                "message",
                &format!("The health check passed {} times in a row.", probe.spec.thresholds.resolve_after),
            )
            .map_err(|e| PollError::Domain(flare_core::ValidationErrors::from(e).into()))?;
            let resolve = Command::Resolve(ResolveIncident {
                ticket,
                expected_version: None,
                resolved_at: None,
                message: Some(message),
                root_cause: None,
                notify: true,
            });
            match service.execute(resolve, &actor, Some(&format!("resolve-{ticket}"))).await {
                Ok(_) => {}
                // Already resolved by a person, or gone: either way the probe has nothing left open.
                Err(DomainError::InvalidTransition { .. } | DomainError::NotFound(_)) => {}
                Err(e) => return Err(PollError::Domain(e)),
            }
            machine.resolved();
            info!(source = %source, ticket = %ticket, "probe resolved its incident");
            "resolved"
        }
    };
    if let Some(reason) = &reason {
        warn!(source = %source, failures = machine.failures, reason = %reason, "health check failed");
    }
    state.last_run = Some(now);
    state.last_error = None;
    state.probe = Some(machine);
    store.put_poll_source(&state).await?;
    Ok(ProbeReport { ok: reason.is_none(), reason, action })
}

/// Makes the request and judges it: the expected status and, if configured, the body text.
async fn check(fetcher: &Fetcher, probe: &Probe) -> (CheckOutcome, Option<u16>) {
    let timeout = std::time::Duration::from_millis(probe.spec.timeout_ms);
    let request =
        FetchRequest { method: probe.method.clone(), timeout: Some(timeout), ..FetchRequest::get(&probe.url) };
    match fetcher.fetch(request).await {
        Ok(got) => {
            let status = got.status.as_u16();
            let outcome = if status != probe.spec.expected_status {
                CheckOutcome::Down(format!("answered {status}, expected {}", probe.spec.expected_status))
            } else if let Some(text) = probe.spec.body_contains.as_deref()
                && !String::from_utf8_lossy(&got.body).contains(text)
            {
                CheckOutcome::Down(format!("answered without \"{text}\" in its body"))
            } else {
                CheckOutcome::Up
            };
            (outcome, Some(status))
        }
        Err(FetchError::Timeout(t)) => {
            (CheckOutcome::Down(format!("did not answer within {} ms", t.as_millis())), None)
        }
        Err(e @ (FetchError::Refused(_) | FetchError::TooLarge { .. } | FetchError::Tls(_))) => {
            (CheckOutcome::Down(e.to_string()), None)
        }
        Err(FetchError::Request(e)) if e.is_connect() => (CheckOutcome::Down("could not connect".into()), None),
        Err(FetchError::Request(_)) => (CheckOutcome::Down("the request failed".into()), None),
    }
}

/// The incident a failing probe opens: the system's name in the title, the failure in the description.
async fn open_command(service: &IncidentService, probe: &Probe, reason: &str) -> Result<OpenIncident, PollError> {
    let system = &probe.spec.system;
    let name = service.store().get_system(system).await?.map_or_else(|| system.to_string(), |s| s.name.to_string());
    let host = probe.url.host_str().unwrap_or("its target");
    let invalid = |e: flare_core::FieldError| PollError::Domain(flare_core::ValidationErrors::from(e).into());
    Ok(OpenIncident {
        title: Title::parse("title", &format!("{name} is failing its health check")).map_err(invalid)?,
        description: Description::parse(
            "description",
            &format!(
                "Flare's health check of {name} ({} {host}) failed {} times in a row: {reason}.",
                probe.method, probe.spec.thresholds.open_after
            ),
        )
        .map_err(invalid)?,
        severity: probe.severity,
        systems: vec![AffectedSystem { system: system.clone(), impact: Impact::MajorOutage }],
        engineer: None,
        engineer_email: None,
        notify_emails: Vec::new(),
        started_at: None,
        detected_at: None,
        source: Source::new(Channel::Probe),
        notify: true,
    })
}
