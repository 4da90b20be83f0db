//! Findings: merging anomalous points into runs, exact money sums, gates, kind and severity.

use super::stats::finite_or;
use super::Thresholds;
use chrono::NaiveDateTime;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

/// What the anomaly looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// Short excess: at most `spike_max_len` points (3 days / 12 hours). An ongoing anomaly
    /// is called a spike until it outlasts that, then it becomes a level shift.
    Spike,
    /// Longer excess that persists until the baseline adopts the new level.
    LevelShift,
    /// Spend on a key whose history in the baseline window was ~zero (every past |amount|
    /// at most 10 % of the anomaly's mean amount).
    NewSpend,
    /// Spend fell well below the baseline (something may have broken or been switched off).
    Drop,
}

/// Alert urgency.
///
/// With `r = |impact| / min_impact` and `s = score / min_score`: Critical when `r >= 20` and
/// `s >= 2`; High when `r >= 5` and `s >= 1.5`; Medium when `r >= 2`; Low otherwise. Drops
/// and provisional findings (resting only on estimated data) are capped at Medium, because
/// they are more often benign (a service switched off, a late-arriving bill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Several times the minimum impact.
    Medium,
    /// Large and clearly outside the noise.
    High,
    /// Very large and far outside the noise.
    Critical,
}

/// One anomaly in the recent window of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// First anomalous point.
    pub start: NaiveDateTime,
    /// Last anomalous point.
    pub end: NaiveDateTime,
    /// True when no normal point follows the anomaly: its last point is the most recent
    /// complete point with data.
    pub ongoing: bool,
    /// Expected spend over the duration (per-point expectations rounded to cents, summed).
    pub expected: Decimal,
    /// Actual spend over the duration (exact sum).
    pub actual: Decimal,
    /// `actual - expected`, the exact sum of per-point differences.
    pub impact: Decimal,
    /// `100 * impact / |expected|`, rounded to 0.01 and clamped to ±10000 (also used when
    /// the expected spend is below one cent, as for new spend).
    pub percent: Decimal,
    /// Evidence: the larger of the strongest point's robust score and `sum(|z|) / sqrt(n)`
    /// over the points (finite, >= 0).
    pub score: f64,
    /// See [`Severity`] for the rule.
    pub severity: Severity,
    /// See [`Kind`].
    pub kind: Kind,
    /// True when every point of the finding is estimated (provisional) data.
    pub provisional: bool,
    /// Number of anomalous points.
    pub points: usize,
}

impl Finding {
    /// Whether `other` (from a later run over the same key) describes the same incident:
    /// their periods overlap or touch within `slack`. Re-scoring with more history can move
    /// a finding's start a little, so callers should de-duplicate alerts with this rather
    /// than by exact start time.
    pub fn same_incident(&self, other: &Finding, slack: chrono::Duration) -> bool {
        other.start <= self.end + slack && other.end + slack >= self.start
    }
}

/// One scored point handed to [`assemble`].
#[derive(Debug, Clone, Copy)]
pub struct ScoredPoint {
    /// Exact actual amount.
    pub actual: Decimal,
    /// Expected amount (model output, finite).
    pub expected: f64,
    /// Signed score.
    pub z: f64,
    /// Provisional data.
    pub estimated: bool,
}

/// Context for turning a run of points into a finding.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    /// Gates.
    pub thresholds: &'a Thresholds,
    /// Start of the first point and of the last point.
    pub start: NaiveDateTime,
    /// Start of the last point.
    pub end: NaiveDateTime,
    /// Whether the run reaches the last complete point.
    pub ongoing: bool,
    /// Runs longer than this many points are level shifts.
    pub spike_max_len: usize,
    /// Largest |amount| in the baseline history.
    pub hist_max_abs: f64,
    /// False when the baseline has less than two seasonal periods of non-trivial history;
    /// drops are not reported then, because there is no settled level to drop from.
    pub established: bool,
    /// Score multiplier required for drops.
    pub drop_factor: f64,
    /// Score multiplier required when every point is estimated.
    pub estimated_factor: f64,
}

const PERCENT_CAP: i64 = 10_000;

/// Convert an f64 dollar amount to a Decimal rounded to cents, saturating at the extremes.
pub fn to_cents(v: f64) -> Decimal {
    let d = Decimal::from_f64(v).unwrap_or(if v > 0.0 {
        Decimal::MAX
    } else if v < 0.0 {
        Decimal::MIN
    } else {
        Decimal::ZERO
    });
    d.round_dp(2)
}

/// Build a finding from a run of same-direction points, or `None` when it fails the gates.
pub fn assemble(points: &[ScoredPoint], ctx: &RunContext) -> Option<Finding> {
    if points.is_empty() {
        return None;
    }
    let up = points[0].z > 0.0;
    let mut expected = Decimal::ZERO;
    let mut actual = Decimal::ZERO;
    let (mut peak, mut sum_z) = (0.0f64, 0.0f64);
    let mut provisional = true;
    for p in points {
        expected = expected.saturating_add(to_cents(p.expected));
        actual = actual.saturating_add(p.actual);
        peak = peak.max(p.z.abs());
        sum_z += p.z.abs();
        provisional &= p.estimated;
    }
    // Several moderately unusual days in a row are as telling as one extreme day (a level
    // shift or ramp), so the run's evidence is the larger of the peak and the Stouffer-style
    // sum(|z|) / sqrt(n).
    let score = finite_or(peak.max(sum_z / (points.len() as f64).sqrt()), 0.0);
    let impact = actual.saturating_sub(expected);
    let percent = percent_of(impact, expected);
    let t = ctx.thresholds;
    let mut bar = t.min_score;
    if !up {
        // Drops resting only on provisional data are usually late-arriving bills, and a key
        // without an established baseline (new spend) has nothing to drop from yet.
        let mean_expected = expected.abs().to_f64().unwrap_or(0.0) / points.len() as f64;
        if provisional || !ctx.established || ctx.hist_max_abs <= 0.1 * mean_expected {
            return None;
        }
        bar *= ctx.drop_factor;
    }
    if provisional {
        bar *= ctx.estimated_factor;
    }
    let sign_ok = if up { impact > Decimal::ZERO } else { impact < Decimal::ZERO };
    if !sign_ok || impact.abs() < t.min_impact || percent.abs() < t.min_percent || score < bar {
        return None;
    }
    let kind = classify(points, ctx, up, actual, expected);
    // Without two periods of real history the noise and seasonality are unknown, so only
    // "new spend" is reported for a young key.
    if !ctx.established && kind != Kind::NewSpend {
        return None;
    }
    let severity = severity(impact, score, t, !up || provisional);
    Some(Finding {
        start: ctx.start,
        end: ctx.end,
        ongoing: ctx.ongoing,
        expected,
        actual,
        impact,
        percent,
        score,
        severity,
        kind,
        provisional,
        points: points.len(),
    })
}

fn percent_of(impact: Decimal, expected: Decimal) -> Decimal {
    let cap = Decimal::from(PERCENT_CAP);
    let base = expected.abs();
    if base < Decimal::new(1, 2) {
        return if impact > Decimal::ZERO {
            cap
        } else if impact < Decimal::ZERO {
            -cap
        } else {
            Decimal::ZERO
        };
    }
    let pct = impact
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|x| x.checked_div(base))
        .unwrap_or(if impact > Decimal::ZERO { cap } else { -cap });
    pct.clamp(-cap, cap).round_dp(2)
}

fn classify(points: &[ScoredPoint], ctx: &RunContext, up: bool, actual: Decimal, expected: Decimal) -> Kind {
    if !up {
        return Kind::Drop;
    }
    let mean_actual = actual.to_f64().unwrap_or(0.0) / points.len() as f64;
    // Either the whole baseline history was ~zero, or the expectation itself was ~zero (the
    // key started just before the run, so the level window was still mostly zeros).
    let expected_small = expected.abs().to_f64().unwrap_or(0.0) <= 0.1 * actual.to_f64().unwrap_or(0.0);
    if mean_actual > 0.0 && (ctx.hist_max_abs <= 0.1 * mean_actual || expected_small) {
        return Kind::NewSpend;
    }
    if points.len() > ctx.spike_max_len {
        Kind::LevelShift
    } else {
        Kind::Spike
    }
}

fn severity(impact: Decimal, score: f64, t: &Thresholds, capped: bool) -> Severity {
    let min_impact = if t.min_impact > Decimal::ZERO { t.min_impact } else { Decimal::new(50, 0) };
    let r = impact.abs().to_f64().unwrap_or(f64::MAX) / min_impact.to_f64().unwrap_or(50.0);
    let s = if t.min_score > 0.0 { score / t.min_score } else { score };
    let sev = if r >= 20.0 && s >= 2.0 {
        Severity::Critical
    } else if r >= 5.0 && s >= 1.5 {
        Severity::High
    } else if r >= 2.0 {
        Severity::Medium
    } else {
        Severity::Low
    };
    if capped {
        sev.min(Severity::Medium)
    } else {
        sev
    }
}

/// Direction marker for a missing slot: transparent inside a run.
pub const MISSING: i8 = 2;

/// Split `dir` (per-slot direction: +1 above, -1 below, 0 normal, [`MISSING`]) in `lo..hi`
/// into maximal runs of equal non-zero direction, appending `(first, last)` inclusive index
/// pairs. Missing slots between two points of the same direction do not break a run, because
/// a data gap in the middle of an incident is not two incidents; runs never start or end on
/// a missing slot.
pub fn collect_runs(dir: &[i8], lo: usize, hi: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let hi = hi.min(dir.len());
    let mut i = lo;
    while i < hi {
        let d = dir[i];
        if d == 0 || d == MISSING {
            i += 1;
            continue;
        }
        let a = i;
        let mut last = i;
        let mut j = i + 1;
        while j < hi && (dir[j] == d || dir[j] == MISSING) {
            if dir[j] == d {
                last = j;
            }
            j += 1;
        }
        out.push((a, last));
        i = last + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_bridge_missing_slots_but_not_direction_changes() {
        let mut out = Vec::new();
        let dir = [0, 1, MISSING, 1, -1, MISSING, 0, 1, MISSING];
        collect_runs(&dir, 0, dir.len(), &mut out);
        assert_eq!(out, vec![(1, 3), (4, 4), (7, 7)]);
        collect_runs(&dir, 2, 4, &mut out);
        assert_eq!(out, vec![(3, 3)]);
    }

    #[test]
    fn percent_is_capped_and_defined_for_zero_expectation() {
        assert_eq!(percent_of(Decimal::from(5), Decimal::ZERO), Decimal::from(PERCENT_CAP));
        assert_eq!(percent_of(Decimal::from(-5), Decimal::ZERO), -Decimal::from(PERCENT_CAP));
        assert_eq!(percent_of(Decimal::from(1), Decimal::from(3)), Decimal::new(3333, 2));
        assert_eq!(percent_of(Decimal::MAX, Decimal::ONE), Decimal::from(PERCENT_CAP));
    }

    #[test]
    fn severity_rule() {
        let t = Thresholds::default();
        let sev = |impact: i64, score: f64, capped: bool| severity(Decimal::from(impact), score, &t, capped);
        assert_eq!(sev(60, 7.0, false), Severity::Low);
        assert_eq!(sev(100, 7.0, false), Severity::Medium);
        assert_eq!(sev(250, 10.5, false), Severity::High);
        assert_eq!(sev(1000, 14.0, false), Severity::Critical);
        assert_eq!(sev(1000, 14.0, true), Severity::Medium);
    }
}
