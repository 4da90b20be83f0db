//! Feedback from the channel on an anomaly alert, and what detection does with it.
//!
//! People answer an alert with one of three verdicts, like AWS's YES / NO / PLANNED_ACTIVITY,
//! but costbot acts on them:
//!
//! - **Expected** ("planned"): the new level becomes normal for that series from the anomaly's
//!   start on. Detection drops later findings on the series that go the same way and stay
//!   within [`ACCEPTED_TOLERANCE_PERCENT`] of the accepted level (see [`Accepted::covers`]),
//!   so the same shift never alerts again, while a further jump past it still does.
//! - **Not an anomaly**: the series' minimum dollar impact becomes
//!   `max(configured min_impact, FLOOR_FACTOR × |impact|)` (see [`SeriesTuning::silences`]),
//!   so something of that size on that series no longer alerts. Several such verdicts keep
//!   the largest floor.
//!
//! A finding silenced this way still explains its account's and the organisation's totals
//! (see [`crate::domain::anomaly::pass::run_pass`]), so the totals do not alert for it
//! instead.
//! - **Real**: a true positive. Nothing changes in detection; it counts for precision.
//!
//! Precision from feedback is `real / (real + not an anomaly)`; Expected answers are counted
//! apart, because a planned change was neither a false alarm nor news ([`precision`]).
//!
//! Everything here is pure: the store keeps [`Feedback`] rows, and the detection pass asks
//! [`tuning`] what they mean for each series.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::anomaly::Finding;
use super::incident::{Anomaly, AnomalyId, SeriesKey};
use super::{AccountId, Granularity, Money};

/// What a person said about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Planned: the new level is normal from now on.
    Expected,
    /// A false alarm: raise this series' floor.
    NotAnAnomaly,
    /// A true positive.
    Real,
}

impl Verdict {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Expected => "expected",
            Verdict::NotAnAnomaly => "not_an_anomaly",
            Verdict::Real => "real",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Verdict> {
        [Verdict::Expected, Verdict::NotAnAnomaly, Verdict::Real].into_iter().find(|v| v.as_str() == text)
    }

    /// How the card says it: "expected", "not an anomaly", "real".
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Expected => "expected",
            Verdict::NotAnAnomaly => "not an anomaly",
            Verdict::Real => "real",
        }
    }
}

/// The multiple of a false alarm's impact that becomes the series' minimum impact.
pub const FLOOR_FACTOR: Decimal = Decimal::from_parts(15, 0, 0, false, 1);

/// How far past the accepted level (in percent of it) a later finding may go and still count
/// as the same, expected shift.
pub const ACCEPTED_TOLERANCE_PERCENT: i64 = 20;

/// One verdict on one anomaly, with the anomaly's figures at the time, which is what
/// detection needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The anomaly.
    pub anomaly: AnomalyId,
    /// Its series.
    pub key: SeriesKey,
    /// What was said.
    pub verdict: Verdict,
    /// Who said it (`person:ana`, `slack:U1`).
    pub by: String,
    /// When (UTC).
    pub at: NaiveDateTime,
    /// The anomaly's first period.
    pub start: NaiveDateTime,
    /// Its impact then (actual minus expected over its duration).
    pub impact: Money,
    /// Its actual spend per period then: the level people called expected.
    pub level: Money,
    /// Its expected spend per period then: the level before the shift.
    pub before: Money,
}

impl Feedback {
    /// The feedback record of a verdict on an anomaly as it is now.
    pub fn on(anomaly: &Anomaly, verdict: Verdict, by: &str, at: NaiveDateTime) -> Feedback {
        let periods = Decimal::from(periods(anomaly).max(1));
        Feedback {
            anomaly: anomaly.id.clone(),
            key: anomaly.key.clone(),
            verdict,
            by: by.to_string(),
            at,
            start: anomaly.start,
            impact: anomaly.impact,
            level: Money::from_decimal(anomaly.actual.as_decimal() / periods),
            before: Money::from_decimal(anomaly.expected.as_decimal() / periods),
        }
    }
}

/// Periods an anomaly covers, both ends included.
fn periods(anomaly: &Anomaly) -> i64 {
    let step = period(anomaly.key.granularity);
    (anomaly.end - anomaly.start).num_seconds() / step.num_seconds() + 1
}

fn period(granularity: Granularity) -> Duration {
    match granularity {
        Granularity::Daily => Duration::days(1),
        Granularity::Hourly => Duration::hours(1),
    }
}

/// A level people said was expected, from `from` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The accepted anomaly's first period.
    pub from: NaiveDateTime,
    /// Spend per period people accepted.
    pub level: Decimal,
    /// Spend per period before the shift.
    pub before: Decimal,
}

impl Accepted {
    /// True when a finding is the accepted shift again: it starts at or after the accepted
    /// one (re-scoring may move a start back by up to two periods), goes the same way, and its
    /// spend per period does not go past the accepted level by more than
    /// [`ACCEPTED_TOLERANCE_PERCENT`] of it.
    pub fn covers(&self, finding: &Finding, granularity: Granularity) -> bool {
        if finding.start + period(granularity) * 2 < self.from {
            return false;
        }
        let rising = self.level >= self.before;
        if rising != (finding.impact >= Decimal::ZERO) {
            return false;
        }
        let level = finding.actual / Decimal::from(finding.points.max(1));
        let margin = self.level.abs() * Decimal::from(ACCEPTED_TOLERANCE_PERCENT) / Decimal::from(100);
        if rising {
            level <= self.level + margin
        } else {
            level >= self.level - margin
        }
    }
}

/// What feedback changes for one series.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesTuning {
    /// The raised minimum impact, from "not an anomaly" answers.
    pub floor: Option<Decimal>,
    /// The latest level answered "expected".
    pub accepted: Option<Accepted>,
}

impl SeriesTuning {
    /// True when detection should not alert on this finding (which passed the configured
    /// gates): its impact is under the raised floor, so with the floor the series' minimum
    /// impact is `max(configured min_impact, floor)`; or it is an accepted shift again.
    pub fn silences(&self, finding: &Finding, granularity: Granularity) -> bool {
        self.floor.is_some_and(|floor| finding.impact.abs() < floor)
            || self.accepted.as_ref().is_some_and(|a| a.covers(finding, granularity))
    }
}

/// What all the feedback given means, per series: the largest floor from "not an anomaly",
/// and the latest "expected" level. Real answers change nothing.
pub fn tuning(feedback: &[Feedback]) -> BTreeMap<SeriesKey, SeriesTuning> {
    let mut out: BTreeMap<SeriesKey, SeriesTuning> = BTreeMap::new();
    let mut ordered: Vec<&Feedback> = feedback.iter().collect();
    ordered.sort_by_key(|f| (f.at, f.start));
    for f in ordered {
        match f.verdict {
            Verdict::Real => {}
            Verdict::NotAnAnomaly => {
                let floor = f.impact.as_decimal().abs() * FLOOR_FACTOR;
                let entry = out.entry(f.key.clone()).or_default();
                entry.floor = Some(entry.floor.map_or(floor, |old| old.max(floor)));
            }
            Verdict::Expected => {
                out.entry(f.key.clone()).or_default().accepted =
                    Some(Accepted { from: f.start, level: f.level.as_decimal(), before: f.before.as_decimal() });
            }
        }
    }
    out
}

/// Measured precision for one account (or, with `account = None`, for the organisation-level
/// series).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precision {
    /// The account; `None` for organisation totals.
    pub account: Option<AccountId>,
    /// Alerts answered "real".
    pub real: u32,
    /// Alerts answered "not an anomaly".
    pub not_an_anomaly: u32,
    /// Alerts answered "expected" (counted apart: planned, neither false nor news).
    pub expected: u32,
}

impl Precision {
    /// `real / (real + not an anomaly)`, in percent to one decimal; `None` without such
    /// answers.
    pub fn percent(&self) -> Option<Decimal> {
        let judged = self.real + self.not_an_anomaly;
        (judged > 0).then(|| (Decimal::from(self.real) * Decimal::from(100) / Decimal::from(judged)).round_dp(1))
    }
}

/// Precision per account from the feedback given at or after `since`, accounts in order
/// (organisation totals last). Each anomaly counts once, with its latest verdict.
pub fn precision(feedback: &[Feedback], since: NaiveDateTime) -> Vec<Precision> {
    let mut latest: BTreeMap<&AnomalyId, &Feedback> = BTreeMap::new();
    for f in feedback.iter().filter(|f| f.at >= since) {
        let newer = latest.get(&f.anomaly).is_none_or(|old| old.at <= f.at);
        if newer {
            latest.insert(&f.anomaly, f);
        }
    }
    let mut per: BTreeMap<(bool, Option<AccountId>), Precision> = BTreeMap::new();
    for f in latest.values() {
        let account = f.key.account().cloned();
        let row = per.entry((account.is_none(), account.clone())).or_insert(Precision {
            account,
            real: 0,
            not_an_anomaly: 0,
            expected: 0,
        });
        match f.verdict {
            Verdict::Real => row.real += 1,
            Verdict::NotAnAnomaly => row.not_an_anomaly += 1,
            Verdict::Expected => row.expected += 1,
        }
    }
    per.into_values().collect()
}

#[cfg(test)]
#[path = "feedback_tests.rs"]
mod tests;
