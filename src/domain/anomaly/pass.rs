//! One detection pass, the pure part of the detection job: score every series with the
//! configured gates, reconcile the findings with the anomalies still open, and drop roll-ups
//! that a more specific anomaly explains.
//!
//! The detection job (`crate::detection`) runs it on the series it loads from the store
//! after each collection; `costbot eval series` runs it on files, period by period, with
//! [`apply`] standing in for the store. Both therefore alert on exactly the same things.

use super::{Finding, Granularity, Kind, Point, ThresholdSet, Thresholds};
use crate::domain::feedback::SeriesTuning;
use crate::domain::incident::{reconcile, suppress_rollups, Anomaly, Change, SeriesKey, Status};
use chrono::NaiveDateTime;
use std::collections::BTreeMap;

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
/// [`reconcile`] requires. `tuning` is what the channel's feedback says per series
/// ([`crate::domain::feedback::tuning`]): a finding under a series' raised floor, or that is
/// an accepted ("expected") shift again, is silenced before reconciling, so its anomaly
/// resolves and does not re-alert. Drops are silenced the same way unless
/// [`ThresholdSet::alert_drops`] is on.
pub fn run_pass<'a, D>(
    mut detect: D,
    series: impl IntoIterator<Item = (&'a SeriesKey, &'a [Point])>,
    open: &[Anomaly],
    as_of: NaiveDateTime,
    thresholds: &ThresholdSet,
    tuning: &BTreeMap<SeriesKey, SeriesTuning>,
) -> Pass
where
    D: FnMut(&[Point], Granularity, NaiveDateTime, &Thresholds) -> Vec<Finding>,
{
    let mut findings = Vec::new();
    let mut silenced = Vec::new();
    let mut count = 0;
    for (key, points) in series {
        count += 1;
        let gates = thresholds.thresholds_for(&key.threshold_key());
        let tuned = tuning.get(key);
        for finding in detect(points, key.granularity.into(), as_of, gates) {
            let unwanted_drop = finding.kind == Kind::Drop && !thresholds.alert_drops;
            if unwanted_drop || tuned.is_some_and(|t| t.silences(&finding, key.granularity)) {
                silenced.push((key.clone(), finding));
            } else {
                findings.push((key.clone(), finding));
            }
        }
    }
    // A finding the channel's feedback silenced still explains the totals above it, so the
    // account or organisation total does not alert for the same change instead.
    let mut explainers = open.to_vec();
    explainers.extend(reconcile(&[], &silenced, as_of).into_iter().filter_map(|c| match c {
        Change::Opened(a) => Some(a),
        _ => None,
    }));
    let changes = suppress_rollups(reconcile(open, &findings, as_of), &explainers);
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
