//! Periods people name in `/cost`, resolved against "today" into date ranges.

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::domain::DateRange;

/// A period as typed. Weeks start on Monday (ISO), months on the 1st; all dates are UTC, as
/// Cost Explorer's are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Today so far (partial, estimated).
    Today,
    /// Yesterday.
    Yesterday,
    /// Monday of this week up to today.
    ThisWeek,
    /// Last Monday to Sunday.
    LastWeek,
    /// The last N days, today included.
    LastDays(u32),
    /// The 1st of this month up to today.
    MonthToDate,
    /// The whole of this month (days still to come have no data yet).
    ThisMonth,
    /// The whole of last month.
    LastMonth,
    /// A calendar month, e.g. `2026-10`.
    Month(i32, u32),
    /// An inclusive day range, e.g. `2026-10-01..2026-10-15`.
    Between(NaiveDate, NaiveDate),
}

/// The longest range a query may cover; more than Cost Explorer keeps anyway.
pub const MAX_DAYS: u32 = 400;

impl Period {
    /// The days the period covers, as a half-open range.
    pub fn resolve(self, today: NaiveDate) -> DateRange {
        let tomorrow = today + Days::new(1);
        let month_start = today.with_day(1).unwrap_or(today);
        let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
        let (start, end) = match self {
            Period::Today => (today, tomorrow),
            Period::Yesterday => (today - Days::new(1), today),
            Period::ThisWeek => (monday, tomorrow),
            Period::LastWeek => (monday - Days::new(7), monday),
            Period::LastDays(n) => (tomorrow - Days::new(u64::from(n.clamp(1, MAX_DAYS))), tomorrow),
            Period::MonthToDate => (month_start, tomorrow),
            Period::ThisMonth => (month_start, month_start + Months::new(1)),
            Period::LastMonth => (month_start - Months::new(1), month_start),
            Period::Month(y, m) => {
                let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(month_start);
                (first, first + Months::new(1))
            }
            Period::Between(a, b) => (a.min(b), a.max(b) + Days::new(1)),
        };
        // Non-empty by construction (every end is after its start); fall back to today.
        DateRange::new(start, end).unwrap_or_else(|_| DateRange::single_day(today))
    }

    /// The period of the same length just before, for `compare`. Month-shaped periods compare
    /// with the same days of the previous month, so "mtd" on the 10th compares 1–10 with 1–10.
    pub fn previous(self, today: NaiveDate) -> DateRange {
        let current = self.resolve(today);
        let shifted = match self {
            Period::MonthToDate | Period::ThisMonth | Period::LastMonth | Period::Month(..) => {
                let start = current.start() - Months::new(1);
                let end = current.end() - Months::new(1);
                DateRange::new(start, end.max(start + Days::new(1))).ok()
            }
            _ => {
                let len = Days::new(current.days().max(1) as u64);
                DateRange::new(current.start() - len, current.start()).ok()
            }
        };
        shifted.unwrap_or(current)
    }

    /// A short label for answers: "month to date", "last 7 days", "2026-10".
    pub fn label(self) -> String {
        match self {
            Period::Today => "today".into(),
            Period::Yesterday => "yesterday".into(),
            Period::ThisWeek => "this week".into(),
            Period::LastWeek => "last week".into(),
            Period::LastDays(n) => format!("last {n} days"),
            Period::MonthToDate => "month to date".into(),
            Period::ThisMonth => "this month".into(),
            Period::LastMonth => "last month".into(),
            Period::Month(y, m) => format!("{y}-{m:02}"),
            Period::Between(a, b) => format!("{a} to {b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_resolve_around_a_wednesday() {
        let today = d("2026-11-25"); // a Wednesday
        let r = |p: Period| p.resolve(today).to_string();
        assert_eq!(r(Period::Today), "2026-11-25..2026-11-26");
        assert_eq!(r(Period::Yesterday), "2026-11-24..2026-11-25");
        assert_eq!(r(Period::ThisWeek), "2026-11-23..2026-11-26");
        assert_eq!(r(Period::LastWeek), "2026-11-16..2026-11-23");
        assert_eq!(r(Period::LastDays(7)), "2026-11-19..2026-11-26");
        assert_eq!(r(Period::MonthToDate), "2026-11-01..2026-11-26");
        assert_eq!(r(Period::ThisMonth), "2026-11-01..2026-12-01");
        assert_eq!(r(Period::LastMonth), "2026-10-01..2026-11-01");
        assert_eq!(r(Period::Month(2026, 2)), "2026-02-01..2026-03-01");
        assert_eq!(r(Period::Between(d("2026-10-15"), d("2026-10-01"))), "2026-10-01..2026-10-16");
    }

    #[test]
    fn previous_periods_have_the_same_shape() {
        let today = d("2026-03-31");
        assert_eq!(Period::MonthToDate.previous(today).to_string(), "2026-02-01..2026-03-01");
        assert_eq!(Period::LastDays(7).previous(d("2026-11-25")).to_string(), "2026-11-12..2026-11-19");
        assert_eq!(Period::LastWeek.previous(d("2026-11-25")).to_string(), "2026-11-09..2026-11-16");
        assert_eq!(Period::Month(2026, 1).previous(today).to_string(), "2025-12-01..2026-01-01");
    }
}
