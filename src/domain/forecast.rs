//! Month-end forecast from stored history. Pure, exact, and simple enough to explain in one
//! sentence in the answer:
//!
//! > spent so far this month (complete days), plus, for every day left (today included), the
//! > median of the same kind of day (weekday or weekend) over the last four complete weeks;
//! > the range uses the 20th and 80th percentile days instead of the median.
//!
//! Medians and percentiles pick real days' amounts (nearest rank; the median of an even count
//! is the exact mean of the middle two), so no money is summed as a float.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use rust_decimal::Decimal;

use super::Money;

/// Complete days of history the forecast looks back over.
pub const HISTORY_DAYS: u64 = 28;
/// Fewer complete days than this and the forecast says it cannot tell yet.
pub const MIN_HISTORY_DAYS: usize = 7;

/// A month-end projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// The last day of the month.
    pub month_end: NaiveDate,
    /// Exact spend on complete days of this month.
    pub actual: Money,
    /// Actual plus the median day for each remaining day.
    pub projected: Money,
    /// Actual plus the 20th-percentile day for each remaining day.
    pub low: Money,
    /// Actual plus the 80th-percentile day for each remaining day.
    pub high: Money,
    /// Days still to come, today included.
    pub days_left: u32,
    /// Complete days of history used.
    pub history_days: usize,
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100); the 50th of an even count is the
/// mean of the two middle values.
fn percentile(sorted: &[Money], p: u32) -> Money {
    if sorted.is_empty() {
        return Money::ZERO;
    }
    if p == 50 && sorted.len().is_multiple_of(2) {
        let mid = sorted.len() / 2;
        return Money::from_decimal((sorted[mid - 1].as_decimal() + sorted[mid].as_decimal()) / Decimal::from(2));
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The history a forecast draws on: this month's complete days and the sorted weekday and
/// weekend days of the last [`HISTORY_DAYS`].
struct History {
    month_end: NaiveDate,
    actual: Money,
    weekday: Vec<Money>,
    weekend: Vec<Money>,
    seen: usize,
}

impl History {
    fn of(today: NaiveDate, daily: &[(NaiveDate, Money)]) -> Option<History> {
        let month_start = today.with_day(1)?;
        let month_end = (month_start + Months::new(1)) - Days::new(1);
        let history_start = today - Days::new(HISTORY_DAYS);
        let complete = |d: &NaiveDate| *d < today;
        let actual: Money = daily.iter().filter(|(d, _)| complete(d) && *d >= month_start).map(|(_, m)| *m).sum();
        let mut weekday: Vec<Money> = Vec::new();
        let mut weekend: Vec<Money> = Vec::new();
        let mut seen = 0;
        for (day, amount) in daily.iter().filter(|(d, _)| complete(d) && *d >= history_start) {
            seen += 1;
            if is_weekend(*day) {
                weekend.push(*amount)
            } else {
                weekday.push(*amount)
            }
        }
        if seen < MIN_HISTORY_DAYS {
            return None;
        }
        // A kind of day with no history borrows the other kind's.
        if weekend.is_empty() {
            weekend = weekday.clone();
        }
        if weekday.is_empty() {
            weekday = weekend.clone();
        }
        weekday.sort();
        weekend.sort();
        Some(History { month_end, actual, weekday, weekend, seen })
    }

    /// Each day left (today included) with its `p`th-percentile projection.
    fn days_at(&self, today: NaiveDate, p: u32) -> Vec<(NaiveDate, Money)> {
        today
            .iter_days()
            .take_while(|d| *d <= self.month_end)
            .map(|d| (d, percentile(if is_weekend(d) { &self.weekend } else { &self.weekday }, p)))
            .collect()
    }
}

/// Forecasts the month containing `today` from daily totals (`(day, amount)`, any order; days
/// at or after `today` are ignored as incomplete). `None` when history is too short.
pub fn month_end(today: NaiveDate, daily: &[(NaiveDate, Money)]) -> Option<Forecast> {
    let history = History::of(today, daily)?;
    let sum_at = |p: u32| -> Money { history.days_at(today, p).iter().map(|(_, m)| *m).sum() };
    Some(Forecast {
        month_end: history.month_end,
        actual: history.actual,
        projected: history.actual + sum_at(50),
        low: history.actual + sum_at(20),
        high: history.actual + sum_at(80),
        days_left: history.days_at(today, 50).len() as u32,
        history_days: history.seen,
    })
}

/// The median projection of each day left in the month (today included), from the same
/// history as [`month_end`]: this month's complete days plus these sum to its `projected`.
/// `None` when history is too short.
pub fn projected_days(today: NaiveDate, daily: &[(NaiveDate, Money)]) -> Option<Vec<(NaiveDate, Money)>> {
    Some(History::of(today, daily)?.days_at(today, 50))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn series(from: &str, to: &str, amount: impl Fn(NaiveDate) -> &'static str) -> Vec<(NaiveDate, Money)> {
        d(from).iter_days().take_while(|x| *x <= d(to)).map(|x| (x, Money::parse(amount(x)).unwrap())).collect()
    }

    #[test]
    fn a_constant_spend_projects_exactly() {
        let daily = series("2026-10-01", "2026-11-25", |_| "100.10");
        let f = month_end(d("2026-11-25"), &daily).unwrap();
        // 24 complete days in November plus 6 left (25th to 30th): 30 days at $100.10.
        assert_eq!(f.actual, Money::parse("2402.40").unwrap());
        assert_eq!(
            (f.projected, f.low, f.high),
            (Money::parse("3003").unwrap(), Money::parse("3003").unwrap(), Money::parse("3003").unwrap())
        );
        assert_eq!(f.days_left, 6);
    }

    #[test]
    fn weekly_seasonality_is_respected() {
        let daily = series("2026-10-01", "2026-11-25", |x| if is_weekend(x) { "50" } else { "100" });
        let f = month_end(d("2026-11-25"), &daily).unwrap();
        // Nov 25–30, 2026: Wed, Thu, Fri and Mon are weekdays ($100), Sat and Sun weekend ($50).
        let remaining = Money::parse("500").unwrap();
        assert_eq!(f.projected, f.actual + remaining);
        assert_eq!(f.low, f.projected);
    }

    #[test]
    fn the_range_brackets_noisy_days_and_todays_partial_is_ignored() {
        let noisy = |x: NaiveDate| match x.day() % 5 {
            0 => "80",
            1 => "90",
            2 => "100",
            3 => "110",
            _ => "120",
        };
        let mut daily = series("2026-10-20", "2026-11-24", noisy);
        daily.push((d("2026-11-25"), Money::parse("3").unwrap()));
        let f = month_end(d("2026-11-25"), &daily).unwrap();
        assert!(f.low < f.projected && f.projected < f.high, "{f:?}");
        let without_today = month_end(d("2026-11-25"), &daily[..daily.len() - 1]).unwrap();
        assert_eq!(f, without_today);
    }

    #[test]
    fn too_little_history_says_so() {
        let daily = series("2026-11-20", "2026-11-24", |_| "10");
        assert_eq!(month_end(d("2026-11-25"), &daily), None);
        assert_eq!(month_end(d("2026-11-25"), &[]), None);
    }

    #[test]
    fn the_projected_days_add_up_to_the_forecast() {
        let daily = series("2026-10-01", "2026-11-25", |x| if is_weekend(x) { "50.05" } else { "100.10" });
        let f = month_end(d("2026-11-25"), &daily).unwrap();
        let days = projected_days(d("2026-11-25"), &daily).unwrap();
        assert_eq!(days.first().map(|x| x.0), Some(d("2026-11-25")));
        assert_eq!(days.last().map(|x| x.0), Some(f.month_end));
        assert_eq!(f.actual + days.iter().map(|x| x.1).sum::<Money>(), f.projected);
    }

    #[test]
    fn medians_of_even_counts_are_exact() {
        let values: Vec<Money> = ["1", "2", "3", "4"].iter().map(|v| Money::parse(v).unwrap()).collect();
        assert_eq!(percentile(&values, 50), Money::parse("2.5").unwrap());
        assert_eq!(percentile(&values, 20), Money::parse("1").unwrap());
        assert_eq!(percentile(&values, 80), Money::parse("4").unwrap());
    }
}
