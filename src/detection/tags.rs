//! Per-tag series (`[anomaly] by_tags = ["team"]`): each value's spend over every account,
//! untagged spend included, so a team sees its own spikes and nobody's spend goes unwatched.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::points_of;
use crate::domain::anomaly::Point;
use crate::domain::incident::{Scope, SeriesKey};
use crate::domain::root_cause::{BreakdownRow, Dimension};
use crate::domain::tags::{TagFact, TagKey};
use crate::domain::{Granularity, Money};

/// One series per key and value: exact sums over accounts per period; a period is estimated
/// when any of its rows is.
pub fn build_tag_series(rows: &[TagFact], granularity: Granularity) -> BTreeMap<SeriesKey, Vec<Point>> {
    let mut sums: BTreeMap<SeriesKey, BTreeMap<NaiveDateTime, (Money, bool)>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.granularity == granularity) {
        let scope = Scope::Tag { key: row.key.clone(), value: row.value.clone() };
        let entry = sums
            .entry(SeriesKey { granularity, scope })
            .or_default()
            .entry(row.period_start)
            .or_insert((Money::ZERO, false));
        entry.0 += row.amount;
        entry.1 |= row.estimated;
    }
    points_of(sums)
}

/// A tag value's daily spend by account, the root cause of a per-tag anomaly (from the store,
/// no Cost Explorer request).
pub fn tag_rows_by_account(rows: &[TagFact], key: &TagKey, value: &str) -> Vec<BreakdownRow> {
    rows.iter()
        .filter(|r| &r.key == key && r.value == value)
        .map(|r| BreakdownRow {
            dimension: Dimension::LinkedAccount,
            name: r.account.to_string(),
            day: r.period_start.date(),
            amount: r.amount,
        })
        .collect()
}
