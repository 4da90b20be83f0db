//! One detection pass, the pure part of the detection job: score every series with the
//! configured gates, reconcile the findings with the anomalies still open, and drop roll-ups
//! that a more specific anomaly explains.
//!
//! The detection job (`crate::detection`) runs it on the series it loads from the store
//! after each collection; `costbot eval series` runs it on files, period by period, with
//! [`apply`] standing in for the store. Both therefore alert on exactly the same things.

use super::{Finding, Granularity, Point, ThresholdSet, Thresholds};
use crate::domain::incident::{reconcile, suppress_rollups, Anomaly, Change, SeriesKey, Status};
use chrono::NaiveDateTime;

/// What one pass found and what it changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pass {
    /// Series scored.
    pub series: usize,
    /// Findings over all series (before reconciliation).
    pub findings: usize,
    /// Opened, updated, extended and resolved anomalies, roll-ups already dropped.
    pub changes: Vec<Change>,
}

/// Run one pass at `as_of` over `series` (each key with its points, sorted by time) with
/// `detect` (the product's [`super::Detector::detect`], or a baseline for comparison).
///
/// `open` must hold the open anomalies of the scored series' granularity, as
/// [`reconcile`] requires.
pub fn run_pass<'a, D>(
    mut detect: D,
    series: impl IntoIterator<Item = (&'a SeriesKey, &'a [Point])>,
    open: &[Anomaly],
    as_of: NaiveDateTime,
    thresholds: &ThresholdSet,
) -> Pass
where
    D: FnMut(&[Point], Granularity, NaiveDateTime, &Thresholds) -> Vec<Finding>,
{
    let mut findings = Vec::new();
    let mut count = 0;
    for (key, points) in series {
        count += 1;
        let gates = thresholds.thresholds_for(&key.threshold_key());
        for finding in detect(points, key.granularity.into(), as_of, gates) {
            findings.push((key.clone(), finding));
        }
    }
    let changes = suppress_rollups(reconcile(open, &findings, as_of), open);
    Pass { series: count, findings: findings.len(), changes }
}

/// Apply a pass's changes to an in-memory set of open anomalies, as the store does to its
/// rows: opened ones join, updated and extended ones replace their previous version,
/// resolved ones leave.
pub fn apply(open: &mut Vec<Anomaly>, changes: &[Change]) {
    for change in changes {
        match change {
            Change::Opened(a) => open.push(a.clone()),
            Change::Updated(a) | Change::Extended(a) => {
                if let Some(slot) = open.iter_mut().find(|o| o.id == a.id) {
                    *slot = a.clone();
                }
            }
            Change::Resolved(a) => open.retain(|o| o.id != a.id),
        }
    }
    open.retain(|o| o.status == Status::Open);
}
