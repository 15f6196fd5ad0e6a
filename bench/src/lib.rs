//! Flare's benchmarks. `window-cost` checks the dashboard's read-cost target: a one-week window costs the same
//! read capacity at 1,000 and at 100,000 incidents (within 20%) when the week holds the same incidents.
//!
//! - [`fixtures`]: the probe week, the incidents planted around it, and the background that only adds size.
//! - [`load`]: fast bulk loading with BatchWriteItem, through the store's own item layout.
//! - [`measure`]: running the window query and summarising cost and latency.

pub mod fixtures;
pub mod load;
pub mod measure;
