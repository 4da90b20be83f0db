//! Sums over any day range from running sums that restart every calendar month.
//!
//! The store keeps, per key (a service or an account) and day, the key's spend from the first
//! of that month through that day, on every day of the month from the key's first spend to
//! the month's last day. The spend of a range is then one running sum per month it touches
//! (at the range's last day in that month) less the running sum on the day before the range
//! starts, when that day is in the range's first month: at most fourteen rows per key for a
//! 400-day range, where daily rows would be 400. Restarting each month keeps every running
//! sum as small as a month's spend, and a restated day rewrites only the rest of its month.

use chrono::{Datelike, Days, Months, NaiveDate};

use super::DateRange;

/// The days whose running sums give a range's sum: `plus` are added, `minus` subtracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchors {
    /// The range's last day in each month it touches, oldest first.
    pub plus: Vec<NaiveDate>,
    /// The day before the range, when the range starts after the first of its month.
    pub minus: Option<NaiveDate>,
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The calendar months `range` touches, each as the whole month, oldest first.
pub fn months(range: &DateRange) -> Vec<DateRange> {
    let mut out = Vec::new();
    let mut start = month_start(range.start());
    while start < range.end() {
        let next = start + Months::new(1);
        out.push(DateRange::new(start, next).expect("a month is never empty"));
        start = next;
    }
    out
}

/// The anchor days of `range` (see the module documentation).
pub fn anchors(range: &DateRange) -> Anchors {
    let last = range.end() - Days::new(1);
    let plus = months(range).iter().map(|month| (month.end() - Days::new(1)).min(last)).collect();
    let minus = (range.start().day() != 1).then(|| range.start() - Days::new(1));
    Anchors { plus, minus }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn range(a: &str, b: &str) -> DateRange {
        DateRange::new(day(a), day(b)).unwrap()
    }

    #[test]
    fn a_range_inside_one_month_is_its_last_day_less_the_day_before() {
        let a = anchors(&range("2026-11-10", "2026-11-15"));
        assert_eq!(a, Anchors { plus: vec![day("2026-11-14")], minus: Some(day("2026-11-09")) });
    }

    #[test]
    fn a_range_from_the_first_subtracts_nothing_and_whole_months_end_on_their_last_day() {
        let a = anchors(&range("2026-01-01", "2026-04-01"));
        assert_eq!(a.plus, vec![day("2026-01-31"), day("2026-02-28"), day("2026-03-31")]);
        assert_eq!(a.minus, None);
        assert_eq!(months(&range("2026-01-01", "2026-04-01")).len(), 3);
    }

    #[test]
    fn a_range_across_a_year_touches_each_month_once() {
        let r = range("2025-12-20", "2026-02-03");
        let a = anchors(&r);
        assert_eq!(a.plus, vec![day("2025-12-31"), day("2026-01-31"), day("2026-02-02")]);
        assert_eq!(a.minus, Some(day("2025-12-19")));
        let m = months(&r);
        assert_eq!(m.first().map(DateRange::start), Some(day("2025-12-01")));
        assert_eq!(m.last().map(DateRange::end), Some(day("2026-03-01")));
    }

    /// Sums of every range over a year of made-up daily values, from anchors and running
    /// sums, equal the plain sums.
    #[test]
    fn anchors_give_the_plain_sum_of_every_range() {
        let first = day("2025-12-25");
        let values: Vec<(NaiveDate, i64)> =
            (0..70u64).map(|i| (first + Days::new(i), (i as i64 * 37) % 11 - 3)).collect();
        let running = |at: NaiveDate| -> i64 {
            values.iter().filter(|(d, _)| *d <= at && month_start(*d) == month_start(at)).map(|(_, v)| v).sum()
        };
        for i in 0..70u64 {
            for len in 1..(70 - i) {
                let r = DateRange::new(first + Days::new(i), first + Days::new(i + len)).unwrap();
                let plain: i64 = values.iter().filter(|(d, _)| *d >= r.start() && *d < r.end()).map(|(_, v)| v).sum();
                let a = anchors(&r);
                let from_anchors = a.plus.iter().map(|d| running(*d)).sum::<i64>() - a.minus.map_or(0, running);
                assert_eq!(from_anchors, plain, "{r}");
            }
        }
    }
}
