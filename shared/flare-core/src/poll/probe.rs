//! A health probe's state machine. One failure never opens an incident: only `open_after` consecutive failures
//! do, and only `resolve_after` consecutive successes resolve it, so one slow answer is not an alarm and a
//! flapping target is not a storm. While an incident is open, further failures add an update only when the
//! failure changes (a timeout becomes a 503), never one per check.

use serde::{Deserialize, Serialize};

use crate::values::{SystemId, TicketNumber};

/// When a probe opens and resolves its incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    pub open_after: u32,
    pub resolve_after: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { open_after: 3, resolve_after: 2 }
    }
}

/// An HTTP check of one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSpec {
    pub system: SystemId,
    pub method: String,
    pub url: String,
    pub expected_status: u16,
    /// Text the body must contain, if given.
    pub body_contains: Option<String>,
    pub timeout_ms: u64,
    pub thresholds: Thresholds,
}

impl ProbeSpec {
    /// The longest a check may wait: an explicit timeout, not a share of the interval.
    pub const TIMEOUT_MAX_MS: u64 = 10_000;

    /// `probe:<system>`: the source name and the principal.
    pub fn source(&self) -> String {
        format!("probe:{}", self.system)
    }
}

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Up,
    Down(String),
}

/// What a probe remembers between checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeState {
    pub failures: u32,
    pub successes: u32,
    /// The incident this probe opened and has not yet resolved.
    pub open: Option<TicketNumber>,
    /// The failure last reported on the incident, so the same failure is not reported twice.
    pub reported: Option<String>,
    /// How many incidents this probe has opened: the next open's idempotency key, so a retried run that
    /// opened one but failed to save this state does not open a second.
    pub opened: u64,
    /// How many checks this probe has made.
    pub checks: u64,
}

/// What the state machine asks the poller to do after a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeDecision {
    Nothing,
    /// Open an incident saying why; `attempt` keys it.
    Open {
        reason: String,
        attempt: u64,
    },
    /// Add one update to the open incident: the failure changed.
    Update {
        ticket: TicketNumber,
        reason: String,
    },
    Resolve {
        ticket: TicketNumber,
    },
}

impl ProbeState {
    /// Takes in one check's outcome and says what to do. The caller records the decision's effect with
    /// [`ProbeState::opened_as`] once the incident is open.
    pub fn observe(&mut self, outcome: &CheckOutcome, thresholds: Thresholds) -> ProbeDecision {
        self.checks += 1;
        match outcome {
            CheckOutcome::Down(reason) => {
                self.failures = self.failures.saturating_add(1);
                self.successes = 0;
                match self.open {
                    None if self.failures >= thresholds.open_after.max(1) => {
                        self.reported = Some(reason.clone());
                        ProbeDecision::Open { reason: reason.clone(), attempt: self.opened + 1 }
                    }
                    None => ProbeDecision::Nothing,
                    Some(ticket) if self.reported.as_deref() != Some(reason.as_str()) => {
                        self.reported = Some(reason.clone());
                        ProbeDecision::Update { ticket, reason: reason.clone() }
                    }
                    Some(_) => ProbeDecision::Nothing,
                }
            }
            CheckOutcome::Up => {
                self.successes = self.successes.saturating_add(1);
                self.failures = 0;
                match self.open {
                    Some(ticket) if self.successes >= thresholds.resolve_after.max(1) => {
                        ProbeDecision::Resolve { ticket }
                    }
                    _ => ProbeDecision::Nothing,
                }
            }
        }
    }

    /// Records the incident an [`ProbeDecision::Open`] opened.
    pub fn opened_as(&mut self, ticket: TicketNumber) {
        self.open = Some(ticket);
        self.opened += 1;
    }

    /// Records that the open incident was resolved (or found resolved by someone else).
    pub fn resolved(&mut self) {
        self.open = None;
        self.reported = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state: &mut ProbeState, checks: &[bool]) -> Vec<ProbeDecision> {
        let mut decisions = Vec::new();
        for &ok in checks {
            let outcome = if ok { CheckOutcome::Up } else { CheckOutcome::Down("answered 503".into()) };
            let d = state.observe(&outcome, Thresholds::default());
            match &d {
                ProbeDecision::Open { .. } => state.opened_as(TicketNumber::from_number(9).unwrap()),
                ProbeDecision::Resolve { .. } => state.resolved(),
                _ => {}
            }
            if d != ProbeDecision::Nothing {
                decisions.push(d);
            }
        }
        decisions
    }

    #[test]
    fn one_failure_opens_nothing() {
        assert!(run(&mut ProbeState::default(), &[false, true, true]).is_empty());
    }

    #[test]
    fn three_failures_in_a_row_open_one_incident() {
        let decisions = run(&mut ProbeState::default(), &[false, false, false, false, false, false]);
        assert_eq!(decisions, [ProbeDecision::Open { reason: "answered 503".into(), attempt: 1 }]);
    }

    #[test]
    fn a_target_alternating_fail_and_ok_opens_nothing() {
        let checks: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
        assert!(run(&mut ProbeState::default(), &checks).is_empty());
    }

    #[test]
    fn two_successes_resolve_the_open_incident() {
        let mut state = ProbeState::default();
        let decisions = run(&mut state, &[false, false, false, true, true]);
        assert_eq!(decisions.last(), Some(&ProbeDecision::Resolve { ticket: TicketNumber::from_number(9).unwrap() }));
        assert_eq!(state.open, None);
    }

    #[test]
    fn one_success_while_open_resolves_nothing() {
        let mut state = ProbeState::default();
        run(&mut state, &[false, false, false, true, false]);
        assert!(state.open.is_some());
    }

    #[test]
    fn a_changed_failure_while_open_adds_one_update() {
        let mut state = ProbeState::default();
        run(&mut state, &[false, false, false]);
        let timeout = CheckOutcome::Down("timed out".into());
        let first = state.observe(&timeout, Thresholds::default());
        let second = state.observe(&timeout, Thresholds::default());
        assert!(matches!(first, ProbeDecision::Update { .. }));
        assert_eq!(second, ProbeDecision::Nothing);
    }
}
