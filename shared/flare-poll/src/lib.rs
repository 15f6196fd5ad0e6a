//! Flare's poller: the half that touches the network. It fetches form-response sheets and runs health probes
//! under one fetch policy, and applies what they say through the [`flare_core::IncidentService`], so polled
//! changes are notified, ticketed and on the timeline like any other. The pure half (parsing, rows to
//! commands, the probe state machine) and the state it keeps ([`flare_core::poll::PollStore`]) are in core.
//!
//! - [`fetch`]: the one HTTP client: timeout, size cap, redirect rules and the private-address deny-list.
//! - [`config`]: sheets, probes and the policy, from JSON in the environment or a file.
//! - `sheet` and `probe`: one run of one source.
//!
//! Both hosts run [`Poller::run_once`]: the `poller` Lambda on its schedule, and `flare serve` on an interval.

pub mod config;
pub mod fetch;
mod probe;
mod sheet;

use std::sync::Arc;

use flare_core::notify::Mailer;
use flare_core::poll::SheetError;
use flare_core::{DomainError, EmailAddress, IncidentService, StoreError};
use serde::Serialize;
use tracing::error;

pub use config::{PollConfig, PollConfigError, Probe, SheetSource};
pub use fetch::{FetchError, FetchPolicy, Fetcher, TrustRoots};
pub use probe::ProbeReport;
pub use sheet::SheetReport;

/// Why one source's run failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("fetching the source failed")]
    Fetch(#[from] FetchError),
    #[error("the source answered {0}")]
    Status(u16),
    #[error("the sheet cannot be read")]
    Sheet(#[from] SheetError),
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("the incident service refused the change")]
    Domain(#[source] DomainError),
}

/// One source's outcome in a run.
#[derive(Debug, Serialize)]
pub struct SourceRun {
    pub source: String,
    /// The failure's whole chain, if the source failed.
    pub error: Option<String>,
    pub sheet: Option<SheetReport>,
    pub probe: Option<ProbeReport>,
}

/// What a run did, source by source.
#[derive(Debug, Default, Serialize)]
pub struct RunReport {
    pub sources: Vec<SourceRun>,
}

impl RunReport {
    /// How many sources failed as a whole.
    pub fn failed(&self) -> usize {
        self.sources.iter().filter(|s| s.error.is_some()).count()
    }
}

/// A scheduled run in which some sources failed; each failure's chain is in the log and the source's state.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} poll sources failed: {names}")]
pub struct RunFailed {
    pub failed: usize,
    pub total: usize,
    pub names: String,
}

/// Where a sheet's bad rows are mailed: the help desk's address, through the host's mailer.
#[derive(Debug, Clone)]
pub struct BadRowMail {
    pub mailer: Arc<dyn Mailer>,
    pub to: EmailAddress,
}

/// The configured sources and what they need to run.
#[derive(Debug, Clone)]
pub struct Poller {
    service: IncidentService,
    fetcher: Fetcher,
    config: PollConfig,
    bad_row_mail: Option<BadRowMail>,
}

impl Poller {
    pub fn new(service: IncidentService, config: PollConfig) -> Result<Self, FetchError> {
        let fetcher = Fetcher::new(config.policy.clone())?;
        Ok(Self { service, fetcher, config, bad_row_mail: None })
    }

    /// Mails each run's new bad rows to the help desk, each row once: in the run that first records it.
    pub fn with_bad_row_mail(mut self, mail: BadRowMail) -> Self {
        self.bad_row_mail = Some(mail);
        self
    }

    pub fn config(&self) -> &PollConfig {
        &self.config
    }

    /// Polls every sheet and runs every probe once. One source failing does not stop the others; each failure
    /// is logged with its chain and kept in that source's state for `flare poll status`.
    pub async fn run_once(&self) -> RunReport {
        let mut report = RunReport::default();
        for sheet in &self.config.sheets {
            let outcome = self.poll_sheet(sheet).await;
            report.sources.push(SourceRun {
                source: sheet.source(),
                error: outcome.as_ref().err().map(|e| flare_core::error_chain(e)),
                sheet: outcome.ok(),
                probe: None,
            });
        }
        for probe in &self.config.probes {
            let outcome = self.check_probe(probe).await;
            report.sources.push(SourceRun {
                source: probe.spec.source(),
                error: outcome.as_ref().err().map(|e| flare_core::error_chain(e)),
                sheet: None,
                probe: outcome.ok(),
            });
        }
        for failed in report.sources.iter().filter(|s| s.error.is_some()) {
            error!(source = %failed.source, error = failed.error.as_deref().unwrap_or_default(), "poll failed");
        }
        report
    }

    /// A run for a scheduler: the report when every source ran, an error naming the failed ones otherwise, so
    /// the scheduler retries the run and, if it keeps failing, dead-letters it.
    pub async fn run_scheduled(&self) -> Result<RunReport, RunFailed> {
        let report = self.run_once().await;
        if report.failed() == 0 {
            return Ok(report);
        }
        let names: Vec<&str> = report.sources.iter().filter(|s| s.error.is_some()).map(|s| s.source.as_str()).collect();
        Err(RunFailed { failed: report.failed(), total: report.sources.len(), names: names.join(", ") })
    }

    /// One run of one sheet.
    pub async fn poll_sheet(&self, sheet: &SheetSource) -> Result<SheetReport, PollError> {
        sheet::run(&self.service, &self.fetcher, sheet, self.bad_row_mail.as_ref()).await
    }

    /// One check of one probe.
    pub async fn check_probe(&self, probe: &Probe) -> Result<ProbeReport, PollError> {
        probe::run(&self.service, &self.fetcher, probe).await
    }
}
