//! The `flare` binary end to end, in one test binary (one link, one run): each module drives the real
//! binary on a temporary database, and `table` on a fresh table in DynamoDB Local (`--table`).

mod poll;
mod report_preview;
mod serve;
mod systems_import;
mod table;
