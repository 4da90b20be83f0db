//! The figures behind an alert's chart: the series' last days, each with the band of what was
//! normal for that weekday before the anomaly began (the 10th to the 90th percentile of the
//! same weekday over the [`BAND_WEEKS`] weeks before its first day).
//!
//! The band comes from before the anomaly on purpose: it shows what the spend was expected to
//! be, so the anomalous days stand out of it. Percentiles interpolate linearly between the
//! sorted values, exactly (decimals, not floats).

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::Money;

/// Days an alert's chart shows.
pub const CHART_DAYS: u64 = 30;
/// Weeks before the anomaly that the band is drawn from.
pub const BAND_WEEKS: u64 = 8;

/// One day of an alert's chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandDay {
    /// The day (UTC).
    pub day: NaiveDate,
    /// Spend that day (zero on a day without any).
    pub actual: Money,
    /// The band's low edge: the 10th percentile of the same weekday before the anomaly.
    pub low: Money,
    /// The band's high edge: the 90th percentile.
    pub high: Money,
    /// True on the anomaly's days.
    pub anomalous: bool,
}

/// The percentile `p` (0–100) of sorted values, interpolated linearly; zero without values.
fn percentile(sorted: &[Decimal], p: u32) -> Decimal {
    let Some(last) = sorted.len().checked_sub(1) else { return Decimal::ZERO };
    let position = Decimal::from(last as u64) * Decimal::from(p) / Decimal::from(100);
    let below = position.floor();
    let index = below.to_usize().unwrap_or(0).min(last);
    let next = (index + 1).min(last);
    sorted[index] + (sorted[next] - sorted[index]) * (position - below)
}

/// The chart's days: the [`CHART_DAYS`] days ending at `last` (the newest day with data),
/// with the band from the [`BAND_WEEKS`] weeks before `start`, and the days from `start` to
/// `end` marked anomalous. `daily` is the series' spend per day; a day missing from it had
/// none. Days before the series' first day count as no spend too: a new service's band is zero.
pub fn expected_band(daily: &[(NaiveDate, Money)], start: NaiveDate, end: NaiveDate, last: NaiveDate) -> Vec<BandDay> {
    let by_day: BTreeMap<NaiveDate, Money> = daily.iter().fold(BTreeMap::new(), |mut m, (d, a)| {
        *m.entry(*d).or_insert(Money::ZERO) += *a;
        m
    });
    let spend = |d: NaiveDate| by_day.get(&d).copied().unwrap_or(Money::ZERO);
    // Per weekday, the values of the weeks before the anomaly, sorted.
    let mut before: BTreeMap<u32, Vec<Decimal>> = BTreeMap::new();
    for back in 1..=BAND_WEEKS * 7 {
        let Some(d) = start.checked_sub_days(Days::new(back)) else { break };
        before.entry(d.weekday().num_days_from_monday()).or_default().push(spend(d).as_decimal());
    }
    for values in before.values_mut() {
        values.sort();
    }
    let first = last.checked_sub_days(Days::new(CHART_DAYS - 1)).unwrap_or(last);
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|day| {
            let values = before.get(&day.weekday().num_days_from_monday()).map_or(&[][..], Vec::as_slice);
            BandDay {
                day,
                actual: spend(day),
                low: Money::from_decimal(percentile(values, 10)),
                high: Money::from_decimal(percentile(values, 90)),
                anomalous: day >= start && day <= end,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn percentiles_interpolate_exactly() {
        let values: Vec<Decimal> = (1..=9).map(Decimal::from).collect();
        assert_eq!(percentile(&values, 10), "1.8".parse().unwrap());
        assert_eq!(percentile(&values, 90), "8.2".parse().unwrap());
        assert_eq!(percentile(&[Decimal::from(5)], 90), Decimal::from(5));
        assert_eq!(percentile(&[], 10), Decimal::ZERO);
    }

    #[test]
    fn the_band_is_the_weekday_range_before_the_anomaly_and_its_days_are_marked() {
        // Weekdays at $100–$107 (by week), weekends at $20, then a jump to $500 from Nov 16.
        let start = d("2026-11-16");
        let daily: Vec<(NaiveDate, Money)> = d("2026-09-01")
            .iter_days()
            .take_while(|day| *day <= d("2026-11-20"))
            .map(|day| {
                let week = i64::from(day.iso_week().week() % 8);
                let weekend = day.weekday().num_days_from_monday() >= 5;
                let amount = if day >= start {
                    50_000
                } else if weekend {
                    2_000
                } else {
                    10_000 + week * 100
                };
                (day, Money::from_cents(amount))
            })
            .collect();
        let days = expected_band(&daily, start, d("2026-11-18"), d("2026-11-20"));
        assert_eq!(days.len(), 30);
        assert_eq!((days[0].day, days[29].day), (d("2026-10-22"), d("2026-11-20")));
        let monday = days.iter().find(|b| b.day == start).unwrap();
        assert!(monday.anomalous && monday.actual == Money::from_cents(50_000));
        assert!(monday.low >= Money::from_cents(10_000) && monday.high <= Money::from_cents(10_700), "{monday:?}");
        let sunday = days.iter().find(|b| b.day == d("2026-11-15")).unwrap();
        assert_eq!(
            (sunday.low, sunday.high, sunday.anomalous),
            (Money::from_cents(2_000), Money::from_cents(2_000), false)
        );
        assert!(!days.last().unwrap().anomalous, "after the anomaly's end");
    }
}
