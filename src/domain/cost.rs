//! Cost facts, granularity and the date ranges the collector asks for.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::ids::{AccountId, ServiceName};
use super::money::Money;

/// How long one cost fact's period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One fact per UTC day.
    Daily,
    /// One fact per UTC hour. Cost Explorer keeps hourly data for 14 days only, and only
    /// when the payer has opted in.
    Hourly,
}

impl Granularity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Daily => "daily",
            Granularity::Hourly => "hourly",
        }
    }

    /// How far back Cost Explorer can answer at this granularity, in days.
    pub fn max_lookback_days(self) -> u64 {
        match self {
            // Cost Explorer serves 13 full months plus the current one for daily data; 395
            // days keeps every request inside that window.
            Granularity::Daily => 395,
            Granularity::Hourly => 14,
        }
    }
}

impl From<Granularity> for super::anomaly::Granularity {
    fn from(value: Granularity) -> Self {
        match value {
            Granularity::Daily => super::anomaly::Granularity::Daily,
            Granularity::Hourly => super::anomaly::Granularity::Hourly,
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Granularity::Daily),
            "hourly" => Ok(Granularity::Hourly),
            other => Err(format!("unknown granularity `{other}` (expected daily or hourly)")),
        }
    }
}

/// One amount of spend: what one account spent on one service in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostFact {
    /// Day or hour.
    pub granularity: Granularity,
    /// Start of the period, UTC (midnight for daily facts).
    pub period_start: NaiveDateTime,
    /// The account that incurred the cost.
    pub account: AccountId,
    /// The service, as Cost Explorer names it.
    pub service: ServiceName,
    /// The exact amount.
    pub amount: Money,
    /// The currency unit Cost Explorer reported (`USD`).
    pub unit: String,
    /// Cost Explorer marks recent periods as estimated; they may still be revised.
    pub estimated: bool,
}

/// A dimension that spend is broken down by, besides service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakdownDimension {
    /// AWS region (`us-east-1`, `global`, …).
    Region,
    /// Cost Explorer usage type (`USE1-BoxUsage:m5.xlarge`, …).
    UsageType,
    /// Cost Explorer record type: what kind of charge (`Usage`, `Credit`, `Refund`, `Tax`,
    /// `Fee`, `SavingsPlanRecurringFee`, `RIFee`, `Support`, …), so credits and refunds are
    /// kept apart from usage.
    RecordType,
}

impl BreakdownDimension {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakdownDimension::Region => "region",
            BreakdownDimension::UsageType => "usage_type",
            BreakdownDimension::RecordType => "record_type",
        }
    }

    /// Cost Explorer's dimension key.
    pub fn cost_explorer_key(self) -> &'static str {
        match self {
            BreakdownDimension::Region => "REGION",
            BreakdownDimension::UsageType => "USAGE_TYPE",
            BreakdownDimension::RecordType => "RECORD_TYPE",
        }
    }
}

/// Whether a Cost Explorer record type is money back (a credit or a refund) rather than a
/// charge: `/cost` shows those apart as credits, and gross is everything else.
pub fn is_credit(record_type: &str) -> bool {
    matches!(record_type, "Credit" | "Refund" | "BundledDiscount" | "SavingsPlanNegation" | "Discount")
}

/// What one account spent in one period on one region or usage type (all services).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownFact {
    /// Day or hour.
    pub granularity: Granularity,
    /// Start of the period, UTC.
    pub period_start: NaiveDateTime,
    /// The account.
    pub account: AccountId,
    /// Region or usage type.
    pub dimension: BreakdownDimension,
    /// The region or usage type (Cost Explorer's text; may be empty for some charges).
    pub key: String,
    /// The exact amount.
    pub amount: Money,
    /// Cost Explorer marks recent periods as estimated.
    pub estimated: bool,
}

/// A half-open range of UTC dates, `start..end`, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    start: NaiveDate,
    end: NaiveDate,
}

/// Why a date range was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("empty date range: {start} is not before {end}")]
pub struct EmptyRange {
    /// The requested first day.
    pub start: NaiveDate,
    /// The requested end (exclusive).
    pub end: NaiveDate,
}

impl DateRange {
    /// Builds `start..end`; refuses an empty or inverted range.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<DateRange, EmptyRange> {
        if start < end {
            Ok(DateRange { start, end })
        } else {
            Err(EmptyRange { start, end })
        }
    }

    /// The one day `day`.
    pub fn single_day(day: NaiveDate) -> DateRange {
        DateRange { start: day, end: day + Days::new(1) }
    }

    /// First day, inclusive.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Day after the last one (exclusive end).
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// Number of days covered.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// The days both ranges cover, if any.
    pub fn intersection(&self, other: &DateRange) -> Option<DateRange> {
        DateRange::new(self.start.max(other.start), self.end.min(other.end)).ok()
    }

    /// The ranges merged where they overlap or touch, oldest first.
    pub fn merge_all(mut ranges: Vec<DateRange>) -> Vec<DateRange> {
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<DateRange> = Vec::new();
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        merged
    }

    /// True when `at` falls inside the range.
    pub fn contains(&self, at: NaiveDateTime) -> bool {
        at.date() >= self.start && at.date() < self.end
    }

    /// Iterates over every day in the range.
    pub fn iter_days(&self) -> impl Iterator<Item = NaiveDate> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d < end)
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// What the collector knows when it decides which days to fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchPlanInput {
    /// Today's UTC date; today's partial data is fetched too and stays marked estimated.
    pub today: NaiveDate,
    /// The newest period the store holds as final (not estimated) for this source.
    pub last_complete: Option<NaiveDate>,
    /// An explicit start (`collect costs --since`), which wins over the incremental rule.
    pub since: Option<NaiveDate>,
    /// Days before the last complete day that are fetched again, because Cost Explorer
    /// revises recent days after the fact.
    pub restatement_days: u64,
    /// How far back the first run of a new source reaches.
    pub backfill_days: u64,
    /// Day or hour.
    pub granularity: Granularity,
}

/// Decides which days one run fetches: from the last complete day minus the restatement
/// window up to and including today, clamped to what Cost Explorer can answer.
pub fn plan_fetch(input: FetchPlanInput) -> DateRange {
    let end = input.today + Days::new(1);
    let oldest = input.today - Days::new(input.granularity.max_lookback_days());
    let wanted = match (input.since, input.last_complete) {
        (Some(since), _) => since,
        (None, Some(last)) => last - Days::new(input.restatement_days),
        (None, None) => input.today - Days::new(input.backfill_days),
    };
    let start = wanted.clamp(oldest, input.today);
    DateRange { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_merge_where_they_overlap_or_touch_and_intersect_exactly() {
        let r = |a: &str, b: &str| DateRange::new(day(a), day(b)).unwrap();
        let merged = DateRange::merge_all(vec![
            r("2026-11-10", "2026-11-12"),
            r("2026-11-01", "2026-11-03"),
            r("2026-11-03", "2026-11-05"),
            r("2026-11-02", "2026-11-04"),
            r("2026-11-11", "2026-11-12"),
        ]);
        assert_eq!(merged, vec![r("2026-11-01", "2026-11-05"), r("2026-11-10", "2026-11-12")]);
        assert!(DateRange::merge_all(Vec::new()).is_empty());
        let held = r("2026-11-04", "2026-11-11");
        assert_eq!(merged[0].intersection(&held), Some(r("2026-11-04", "2026-11-05")));
        assert_eq!(merged[1].intersection(&held), Some(r("2026-11-10", "2026-11-11")));
        assert_eq!(r("2026-11-01", "2026-11-04").intersection(&held), None);
    }

    fn input() -> FetchPlanInput {
        FetchPlanInput {
            today: day("2026-11-25"),
            last_complete: None,
            since: None,
            restatement_days: 3,
            backfill_days: 90,
            granularity: Granularity::Daily,
        }
    }

    #[test]
    fn first_run_backfills() {
        let range = plan_fetch(input());
        assert_eq!(range.to_string(), "2026-08-27..2026-11-26");
        assert_eq!(range.days(), 91);
    }

    #[test]
    fn later_runs_refetch_only_the_restatement_window() {
        let range = plan_fetch(FetchPlanInput { last_complete: Some(day("2026-11-23")), ..input() });
        assert_eq!(range.to_string(), "2026-11-20..2026-11-26");
    }

    #[test]
    fn since_wins_but_is_clamped_to_what_cost_explorer_serves() {
        let range = plan_fetch(FetchPlanInput { since: Some(day("2020-01-01")), ..input() });
        assert_eq!(range.start(), day("2025-10-26"));
        let hourly = plan_fetch(FetchPlanInput { granularity: Granularity::Hourly, ..input() });
        assert_eq!(hourly.start(), day("2026-11-11"));
    }

    #[test]
    fn a_future_since_still_fetches_today() {
        let range = plan_fetch(FetchPlanInput { since: Some(day("2027-01-01")), ..input() });
        assert_eq!(range.to_string(), "2026-11-25..2026-11-26");
    }

    #[test]
    fn empty_ranges_are_refused() {
        assert!(DateRange::new(day("2026-11-02"), day("2026-11-02")).is_err());
        let r = DateRange::new(day("2026-11-01"), day("2026-11-03")).unwrap();
        assert_eq!(r.iter_days().count(), 2);
    }
}
