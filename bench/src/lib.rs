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

pub mod audience;
pub mod fixtures;
pub mod load;
pub mod measure;
pub mod moto;
pub mod pacing;
pub mod probe;
