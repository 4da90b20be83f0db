//! Root cause: which usage types, regions, services or linked accounts account for an
//! anomaly's increase.
//!
//! For each contributor, the increase is its spend during the anomaly minus what its own
//! baseline (the average day before the anomaly) predicts for the same number of days. The
//! contributors are ranked by increase, and each gets its share of the dimension's total
//! positive increase.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{DateRange, Money};

/// What a contributor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Cost Explorer USAGE_TYPE, e.g. `USW2-BoxUsage:m5.xlarge`.
    UsageType,
    /// AWS region.
    Region,
    /// A service (for an account-total anomaly).
    Service,
    /// A linked account (for an organisation-total anomaly).
    LinkedAccount,
}

impl Dimension {
    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Dimension::UsageType => "usage type",
            Dimension::Region => "region",
            Dimension::Service => "service",
            Dimension::LinkedAccount => "account",
        }
    }
}

/// One ranked contributor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    /// What kind of contributor.
    pub dimension: Dimension,
    /// Its name.
    pub name: String,
    /// Spend during the anomaly minus its baseline for the same days.
    pub increase: Money,
    /// Share of the dimension's total positive increase, in percent (0–100, two decimals).
    pub share_percent: Decimal,
}

/// One day of one contributor's spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownRow {
    /// What kind of contributor.
    pub dimension: Dimension,
    /// Its name.
    pub name: String,
    /// The day.
    pub day: NaiveDate,
    /// Spend that day.
    pub amount: Money,
}

/// How many contributors are kept per dimension: enough to explain, short enough to read.
pub const TOP_PER_DIMENSION: usize = 5;

/// Ranks contributors by their increase during `anomaly` against their average day during
/// `baseline`. Rows outside both ranges are ignored. Contributors whose spend did not rise
/// are left out.
pub fn rank_contributors(rows: &[BreakdownRow], baseline: DateRange, anomaly: DateRange) -> Vec<Contributor> {
    #[derive(Default)]
    struct Sums {
        baseline: Money,
        anomaly: Money,
    }
    let mut sums: BTreeMap<(Dimension, &str), Sums> = BTreeMap::new();
    for row in rows {
        let at = row.day.and_hms_opt(0, 0, 0).unwrap_or_default();
        let entry = sums.entry((row.dimension, row.name.as_str())).or_default();
        if baseline.contains(at) {
            entry.baseline += row.amount;
        } else if anomaly.contains(at) {
            entry.anomaly += row.amount;
        }
    }
    let scale = Decimal::from(anomaly.days()) / Decimal::from(baseline.days().max(1));
    let mut by_dimension: BTreeMap<Dimension, Vec<(String, Money)>> = BTreeMap::new();
    for ((dimension, name), s) in sums {
        let expected = Money::from_decimal(s.baseline.as_decimal() * scale);
        let increase = s.anomaly - expected;
        if increase > Money::ZERO {
            by_dimension.entry(dimension).or_default().push((name.to_string(), increase));
        }
    }
    let mut out = Vec::new();
    for (dimension, mut list) in by_dimension {
        let total: Money = list.iter().map(|(_, m)| *m).sum();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (name, increase) in list.into_iter().take(TOP_PER_DIMENSION) {
            let share = if total.as_decimal().is_zero() {
                Decimal::ZERO
            } else {
                (increase.as_decimal() * Decimal::from(100) / total.as_decimal()).round_dp(2)
            };
            out.push(Contributor { dimension, name, increase, share_percent: share });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dimension: Dimension, name: &str, day: &str, amount: &str) -> BreakdownRow {
        BreakdownRow { dimension, name: name.into(), day: day.parse().unwrap(), amount: Money::parse(amount).unwrap() }
    }

    fn range(a: &str, b: &str) -> DateRange {
        DateRange::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    #[test]
    fn ranks_by_increase_against_each_contributors_own_baseline() {
        let mut rows = Vec::new();
        for day in ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"] {
            rows.push(row(Dimension::UsageType, "BoxUsage:m5.xlarge", day, "100"));
            rows.push(row(Dimension::UsageType, "EBS:VolumeUsage.gp3", day, "20"));
        }
        rows.push(row(Dimension::UsageType, "BoxUsage:m5.xlarge", "2026-11-05", "400"));
        rows.push(row(Dimension::UsageType, "EBS:VolumeUsage.gp3", "2026-11-05", "120"));
        rows.push(row(Dimension::UsageType, "NatGateway-Bytes", "2026-11-05", "5"));
        let ranked = rank_contributors(&rows, range("2026-11-01", "2026-11-05"), range("2026-11-05", "2026-11-06"));
        let names: Vec<_> =
            ranked.iter().map(|c| (c.name.as_str(), c.increase.to_string(), c.share_percent.to_string())).collect();
        assert_eq!(
            names,
            vec![
                ("BoxUsage:m5.xlarge", "$300.00".to_string(), "74.07".to_string()),
                ("EBS:VolumeUsage.gp3", "$100.00".to_string(), "24.69".to_string()),
                ("NatGateway-Bytes", "$5.00".to_string(), "1.23".to_string()),
            ]
        );
    }

    #[test]
    fn falling_contributors_and_empty_input_give_nothing() {
        let rows = vec![
            row(Dimension::Region, "us-east-1", "2026-11-01", "10"),
            row(Dimension::Region, "us-east-1", "2026-11-02", "3"),
        ];
        assert!(
            rank_contributors(&rows, range("2026-11-01", "2026-11-02"), range("2026-11-02", "2026-11-03")).is_empty()
        );
        assert!(rank_contributors(&[], range("2026-11-01", "2026-11-02"), range("2026-11-02", "2026-11-03")).is_empty());
    }

    #[test]
    fn dimensions_are_ranked_separately_and_capped() {
        let mut rows = Vec::new();
        for i in 0..8 {
            rows.push(row(Dimension::Region, &format!("r{i}"), "2026-11-02", &format!("{}", i + 1)));
        }
        rows.push(row(Dimension::UsageType, "u", "2026-11-02", "1"));
        let ranked = rank_contributors(&rows, range("2026-11-01", "2026-11-02"), range("2026-11-02", "2026-11-03"));
        assert_eq!(ranked.iter().filter(|c| c.dimension == Dimension::Region).count(), TOP_PER_DIMENSION);
        assert_eq!(ranked.iter().filter(|c| c.dimension == Dimension::UsageType).count(), 1);
        assert_eq!(ranked.iter().find(|c| c.dimension == Dimension::Region).unwrap().name, "r7");
    }
}
