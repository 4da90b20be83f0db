//! `SeriesBuilder` against a plain reference: the same series, points and sums for facts in
//! any order, with another granularity mixed in.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};

use super::{points_of, SeriesBuilder};
use crate::domain::anomaly::Point;
use crate::domain::incident::{Scope, SeriesKey};
use crate::domain::{AccountId, CostFact, Granularity, Money, ServiceName};
use crate::store::FactRef;
use anyhow::Result;

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

/// `SeriesBuilder` over built facts, the way detection feeds it from the store. Groups facts into series: every account × service, every account total, and the
/// organisation total. Totals are exact sums per period; a period is estimated when any of
/// its facts is. Facts of another granularity are ignored.
fn build_series(facts: &[CostFact], granularity: Granularity) -> Result<BTreeMap<SeriesKey, Vec<Point>>> {
    let mut facts = facts.iter().filter(|f| f.granularity == granularity).peekable();
    let Some(first) = facts.peek() else { return Ok(BTreeMap::new()) };
    let (mut start, mut end) = (first.period_start, first.period_start);
    let facts: Vec<&CostFact> = facts.collect();
    for fact in &facts {
        start = start.min(fact.period_start);
        end = end.max(fact.period_start);
    }
    let mut builder = SeriesBuilder::new(granularity, start, end + chrono::Duration::days(1))?;
    for fact in facts {
        builder.add(fact_ref(fact))?;
    }
    Ok(builder.finish())
}

/// A built fact, as the store would stream it.
fn fact_ref(fact: &CostFact) -> FactRef<'_> {
    FactRef {
        period_start: fact.period_start,
        account: fact.account.as_str(),
        service: fact.service.as_str(),
        units: fact.amount.to_units(),
        estimated: fact.estimated,
    }
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

/// A builder over `[from, to)` days of `first`, fed the facts in that range.
fn built_over(facts: &[CostFact], first: NaiveDate, from: u64, to: u64) -> SeriesBuilder {
    let midnight = |d: u64| (first + Days::new(d)).and_hms_opt(0, 0, 0).unwrap();
    let mut builder = SeriesBuilder::new(Granularity::Daily, midnight(from), midnight(to)).unwrap();
    for fact in facts.iter().filter(|f| f.period_start >= midnight(from) && f.period_start < midnight(to)) {
        builder.add(fact_ref(fact)).unwrap();
    }
    builder
}

#[test]
fn an_advanced_and_cleared_builder_is_a_fresh_one() {
    // Kept between runs, the builder moves on and re-adds periods: it must then hold what a
    // builder made from scratch over the same facts holds.
    let first: NaiveDate = "2026-11-01".parse().unwrap();
    let midnight = |d: u64| (first + Days::new(d)).and_hms_opt(0, 0, 0).unwrap();
    let mut facts = Vec::new();
    for d in 0..40u64 {
        for (a, s) in [(0u64, 0u64), (0, 1), (1, 0)] {
            // Account 1 stops after day 12, so once the range passes it, it has no series.
            if a == 1 && d > 12 {
                continue;
            }
            facts.push(CostFact {
                granularity: Granularity::Daily,
                period_start: midnight(d),
                account: AccountId::parse(&format!("{:012}", 100_000_000_000 + a)).unwrap(),
                service: ServiceName::parse(&format!("Service {s}")).unwrap(),
                amount: Money::from_units(i128::from((d * 31 + a * 7 + s) as u32) * 1_000_000_007),
                unit: "USD".into(),
                estimated: d % 9 == 0,
            });
        }
    }
    let mut kept = built_over(&facts, first, 0, 30);
    assert!(!kept.advance(midnight(0) - chrono::Duration::days(1)), "a range cannot move back");
    assert!(!kept.advance(midnight(1) + chrono::Duration::hours(3)), "nor off a period boundary");
    assert!(kept.advance(midnight(15)));
    assert_eq!((kept.start(), kept.end()), (midnight(15), midnight(45)));
    // Day 20 is re-read (as after a restatement), and the newly opened days 30..45 read.
    kept.clear(midnight(20), midnight(21));
    for fact in facts.iter().filter(|f| f.period_start == midnight(20) || f.period_start >= midnight(30)) {
        kept.add(fact_ref(fact)).unwrap();
    }
    let fresh = built_over(&facts, first, 15, 45).finish();
    assert_eq!(kept.series_preferred_over(None), fresh);
    assert!(!fresh.keys().any(|k| k.account().map(|a| a.as_str()) == Some("100000000001")));
    // A fact outside the range moved to is refused, as before.
    assert!(kept.add(fact_ref(&facts[0])).is_err());
}
