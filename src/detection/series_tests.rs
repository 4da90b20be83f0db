//! `build_series` against a plain reference: the same series, points and sums for facts in
//! any order, with another granularity mixed in.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};

use super::{build_series, points_of};
use crate::domain::anomaly::Point;
use crate::domain::incident::{Scope, SeriesKey};
use crate::domain::{AccountId, CostFact, Granularity, Money, ServiceName};

fn reference(facts: &[CostFact], granularity: Granularity) -> BTreeMap<SeriesKey, Vec<Point>> {
    let mut sums: BTreeMap<SeriesKey, BTreeMap<NaiveDateTime, (Money, bool)>> = BTreeMap::new();
    for fact in facts.iter().filter(|f| f.granularity == granularity) {
        for scope in [
            Scope::Service { account: fact.account.clone(), service: fact.service.clone() },
            Scope::Account { account: fact.account.clone() },
            Scope::Organisation,
        ] {
            let entry = sums
                .entry(SeriesKey { granularity, scope })
                .or_default()
                .entry(fact.period_start)
                .or_insert((Money::ZERO, false));
            entry.0 += fact.amount;
            entry.1 |= fact.estimated;
        }
    }
    // The conversion to points is shared; what is checked is which facts land in which sums.
    points_of(sums)
}

#[test]
fn series_are_the_reference_sums_in_any_fact_order() {
    let first: NaiveDate = "2026-11-01".parse().unwrap();
    let mut facts = Vec::new();
    for i in 0..300u64 {
        // A scrambled order over 3 accounts, 4 services, 10 days and both granularities.
        let n = (i * 7_919) % 300;
        facts.push(CostFact {
            granularity: if n % 11 == 0 { Granularity::Hourly } else { Granularity::Daily },
            period_start: (first + Days::new(n % 10)).and_hms_opt(0, 0, 0).unwrap(),
            account: AccountId::parse(&format!("{:012}", 100_000_000_000 + n % 3)).unwrap(),
            service: ServiceName::parse(&format!("Service {}", n % 4)).unwrap(),
            amount: Money::from_units(i128::from(n as u32) * 1_000_003 - 50_000_000),
            unit: "USD".into(),
            estimated: n % 13 == 0,
        });
    }
    for granularity in [Granularity::Daily, Granularity::Hourly] {
        let built = build_series(&facts, granularity).unwrap();
        assert_eq!(built, reference(&facts, granularity), "{granularity:?}");
        assert!(!built.is_empty());
    }
    assert!(build_series(&[], Granularity::Daily).unwrap().is_empty());
}

#[test]
fn series_are_the_reference_sums_when_facts_repeat_the_same_order_every_day() {
    // The order a table written day by day is read back in, which the builder predicts;
    // one service missing on some days and one account appearing late break the pattern.
    let first: NaiveDate = "2026-11-01".parse().unwrap();
    let mut facts = Vec::new();
    for d in 0..20u64 {
        for a in 0..3u64 {
            for s in 0..4u64 {
                if (s == 2 && d % 3 == 0) || (a == 2 && d < 5) {
                    continue;
                }
                facts.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: (first + Days::new(d)).and_hms_opt(0, 0, 0).unwrap(),
                    account: AccountId::parse(&format!("{:012}", 100_000_000_000 + a)).unwrap(),
                    service: ServiceName::parse(&format!("Service {s}")).unwrap(),
                    amount: Money::from_units(i128::from((d * 13 + a * 7 + s) as u32) * 999_999_937),
                    unit: "USD".into(),
                    estimated: d == 19,
                });
            }
        }
    }
    let built = build_series(&facts, Granularity::Daily).unwrap();
    assert_eq!(built, reference(&facts, Granularity::Daily));
    assert_eq!(built.len(), 12 + 3 + 1);
}
