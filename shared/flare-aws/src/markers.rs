//! Activity markers: which resolved incidents were still going at a given UTC midnight, answerable without
//! reading the rest of the table.
//!
//! A resolved incident occupies `[started_at, resolved_at)`; it is marked for every UTC day `d` whose midnight
//! it was active at (`started_at < midnight(d) < resolved_at`). Those days form one range, stored as the
//! canonical cover of aligned blocks of 1, 8, 64, 512 and 4096 days (days counted from the Unix epoch): the
//! fewest blocks, largest first, segment-tree style. A day lies in exactly one block per level, so finding
//! every incident active at a midnight is five small reads, one per level, whatever the table's size.
//!
//! This module is pure arithmetic; the items live in [`crate::items`] and the reads in [`crate::window`].

use std::collections::BTreeSet;

use flare_core::Incident;
use time::OffsetDateTime;

/// Levels `0..=MAX_LEVEL`; a block at level `l` covers `8^l` days.
pub(crate) const MAX_LEVEL: u32 = 4;
const FANOUT: i64 = 8;
const DAY_NANOS: i128 = 86_400 * 1_000_000_000;

/// An aligned run of days: days `index * 8^level ..= (index + 1) * 8^level - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Block {
    pub(crate) level: u32,
    pub(crate) index: i64,
}

impl Block {
    fn days(level: u32) -> i64 {
        FANOUT.pow(level)
    }

    /// The partition holding this block's markers.
    pub(crate) fn partition(self) -> String {
        format!("ACT#L{}#{}", self.level, self.index)
    }

    /// The block at `level` that contains `day`.
    fn containing(level: u32, day: i64) -> Self {
        Self { level, index: day.div_euclid(Self::days(level)) }
    }
}

/// The UTC day `t` falls in, counted from 1970-01-01.
pub(crate) fn day_of(t: OffsetDateTime) -> i64 {
    // The quotient of an i128 nanosecond count by a day fits an i64 for every representable time.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(DAY_NANOS)).unwrap_or(i64::MIN)
}

/// Midnight UTC at the start of `day`. Days come from [`day_of`] of a representable time, whose midnight is
/// representable too; the fallback is never taken.
pub(crate) fn midnight(day: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The first and last day whose midnight lies strictly inside `(started_at, resolved_at)`, if any.
pub(crate) fn crossed_days(started_at: OffsetDateTime, resolved_at: OffsetDateTime) -> Option<(i64, i64)> {
    let first = started_at.unix_timestamp_nanos().div_euclid(DAY_NANOS) + 1;
    let last = (resolved_at.unix_timestamp_nanos() + DAY_NANOS - 1).div_euclid(DAY_NANOS) - 1;
    let (first, last) = (i64::try_from(first).ok()?, i64::try_from(last).ok()?);
    (first <= last).then_some((first, last))
}

/// The canonical cover of the days `first..=last`: at each step the largest aligned block that starts there and
/// fits.
pub(crate) fn cover(first: i64, last: i64) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut day = first;
    while day <= last {
        let level = (0..=MAX_LEVEL)
            .rev()
            .find(|&l| day.rem_euclid(Block::days(l)) == 0 && day + Block::days(l) - 1 <= last)
            .unwrap_or(0);
        blocks.push(Block::containing(level, day));
        day += Block::days(level);
    }
    blocks
}

/// The markers an incident in this state needs: none while it is open.
pub(crate) fn markers(incident: &Incident) -> BTreeSet<Block> {
    incident
        .resolved_at
        .and_then(|r| crossed_days(incident.started_at, r))
        .map(|(first, last)| cover(first, last).into_iter().collect())
        .unwrap_or_default()
}

/// The block of each level that contains `day`: the partitions to read for "active at midnight of `day`".
pub(crate) fn blocks_containing(day: i64) -> Vec<Block> {
    (0..=MAX_LEVEL).map(|level| Block::containing(level, day)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn days_of(blocks: &[Block]) -> Vec<i64> {
        blocks
            .iter()
            .flat_map(|b| {
                let n = Block::days(b.level);
                (b.index * n)..((b.index + 1) * n)
            })
            .collect()
    }

    #[test]
    fn a_cover_holds_each_day_of_the_range_exactly_once() {
        for (first, last) in [(0, 0), (1, 7), (3, 200), (-20, 20), (19_000, 19_000 + 4096 * 2 + 77), (7, 4103)] {
            let blocks = cover(first, last);
            assert_eq!(days_of(&blocks), (first..=last).collect::<Vec<_>>(), "{first}..={last}");
        }
    }

    #[test]
    fn aligned_ranges_take_one_block() {
        assert_eq!(cover(64, 127), vec![Block { level: 2, index: 1 }]);
        assert_eq!(cover(4096, 8191), vec![Block { level: 4, index: 1 }]);
    }

    #[test]
    fn thirty_years_take_few_blocks() {
        let worst = (0..4096).map(|start| cover(start + 1, start + 1 + 30 * 366).len()).max().unwrap();
        assert!(worst <= 60, "{worst}");
    }

    #[test]
    fn markers_cover_exactly_the_midnights_crossed() {
        let started = datetime!(2026-11-20 23:00 UTC);
        let resolved = datetime!(2026-11-23 00:00 UTC);
        let (first, last) = crossed_days(started, resolved).unwrap();
        assert_eq!(midnight(first), datetime!(2026-11-21 00:00 UTC));
        assert_eq!(midnight(last), datetime!(2026-11-22 00:00 UTC), "a resolution at midnight does not cross it");
    }

    #[test]
    fn an_incident_within_one_day_needs_no_marker() {
        assert_eq!(crossed_days(datetime!(2026-11-22 00:00 UTC), datetime!(2026-11-22 23:59 UTC)), None);
        assert_eq!(crossed_days(datetime!(2026-11-22 00:00 UTC), datetime!(2026-11-22 00:00 UTC)), None);
    }

    #[test]
    fn a_day_is_found_in_one_block_per_level_and_that_block_covers_it() {
        let day = day_of(datetime!(2026-11-22 09:30 UTC));
        let blocks = blocks_containing(day);
        assert_eq!(blocks.len(), 5);
        assert!(blocks.iter().all(|b| days_of(&[*b]).contains(&day)));
    }

    #[test]
    fn days_before_the_epoch_count_down() {
        assert_eq!(day_of(datetime!(1969-12-31 23:59 UTC)), -1);
        assert_eq!(midnight(-1), datetime!(1969-12-31 00:00 UTC));
    }
}
