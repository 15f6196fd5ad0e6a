//! Flare's benchmarks. `window-cost` checks the dashboard's read-cost target: a one-week window costs the same
//! read capacity at 1,000 and at 100,000 incidents (within 20%) when the week holds the same incidents.
//! `notify-cost` checks mass notification: SES and SNS calls per recipient, the send rate, and that a
//! redelivered event sends nothing.
//!
//! - [`fixtures`]: the probe week, the incidents planted around it, and the background that only adds size.
//! - [`load`]: fast bulk loading with BatchWriteItem, through the store's own item layout.
//! - [`measure`]: running the window query and summarising cost and latency.
//! - [`audience`]: `notify-cost`'s subscribers, overlapping across systems.
//! - [`probe`]: an SDK interceptor noting when each SES or SNS request goes out and what it carries.
//! - [`pacing`]: judging the send rate from those notes.
//! - [`moto`]: what moto recorded, from its `data.json`.
//!
//! `cold-start` measures every function's cold start against a hello-world `lambda_runtime` binary (the floor,
//! `lambda-floor`) and a Python `awslambdaric` + boto3 peer, in one run:
//!
//! - [`runtime_api`]: a local Lambda Runtime API that starts a binary, hands it one event and times it;
//! - [`coldstart`]: medians, p90s, the ratios and the verdicts on the targets.

pub mod audience;
pub mod coldstart;
pub mod fixtures;
pub mod load;
pub mod measure;
pub mod moto;
pub mod pacing;
pub mod probe;
pub mod runtime_api;
