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

/// The elapsed part of a period in progress and its counterpart in the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    /// From the period's start through today.
    pub current: DateRange,
    /// The same number of days from the previous period's start.
    pub previous: DateRange,
    /// The previous period's day that stands for today (compared hour for hour where hourly
    /// data exists); `None` when the previous period ran out of days first.
    pub twin_of_today: Option<NaiveDate>,
}

/// The longest range a query may cover; more than Cost Explorer keeps anyway.
pub const MAX_DAYS: u32 = 400;

/// The first year a date may name. Cost Explorer keeps about 13 months, so nothing earlier can
/// have data; the bound keeps every later date computation far from chrono's limits.
pub const MIN_YEAR: i32 = 2000;
/// The last year a date may name (the same reasoning as [`MIN_YEAR`]).
pub const MAX_YEAR: i32 = 2100;

/// Why a period cannot be answered today.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Every day of the period is after today.
    #[error("that period hasn't started yet")]
    NotStarted,
}

/// `day + n` days, or `None` past chrono's calendar (never a panic).
fn plus(day: NaiveDate, n: u64) -> Option<NaiveDate> {
    day.checked_add_days(Days::new(n))
}

/// `day - n` days, or `None` before chrono's calendar.
fn minus(day: NaiveDate, n: u64) -> Option<NaiveDate> {
    day.checked_sub_days(Days::new(n))
}

impl Period {
    /// The days the period covers, as a half-open range. Every step is checked arithmetic, so
    /// no period and no "today" can panic; a range that cannot be computed is today alone.
    pub fn resolve(self, today: NaiveDate) -> DateRange {
        self.try_resolve(today)
            .or_else(|| DateRange::new(today, plus(today, 1)?).ok())
            .or_else(|| DateRange::new(minus(today, 1)?, today).ok())
            // Unreachable (one of the day's neighbours always exists); 1970-01-01 cannot overflow.
            .unwrap_or_else(|| DateRange::single_day(NaiveDate::default()))
    }

    fn try_resolve(self, today: NaiveDate) -> Option<DateRange> {
        let tomorrow = plus(today, 1)?;
        let month_start = today.with_day(1)?;
        let monday = minus(today, u64::from(today.weekday().num_days_from_monday()))?;
        let (start, end) = match self {
            Period::Today => (today, tomorrow),
            Period::Yesterday => (minus(today, 1)?, today),
            Period::ThisWeek => (monday, tomorrow),
            Period::LastWeek => (minus(monday, 7)?, monday),
            Period::LastDays(n) => (minus(tomorrow, u64::from(n.clamp(1, MAX_DAYS)))?, tomorrow),
            Period::MonthToDate => (month_start, tomorrow),
            Period::ThisMonth => (month_start, month_start.checked_add_months(Months::new(1))?),
            Period::LastMonth => (month_start.checked_sub_months(Months::new(1))?, month_start),
            Period::Month(y, m) => {
                let first = NaiveDate::from_ymd_opt(y, m, 1)?;
                (first, first.checked_add_months(Months::new(1))?)
            }
            Period::Between(a, b) => (a.min(b), plus(a.max(b), 1)?),
        };
        DateRange::new(start, end).ok()
    }

    /// The days to answer for, or why there are none yet: a period that starts after today
    /// has no data and is answered "that period hasn't started yet", never as zero spend.
    pub fn check(self, today: NaiveDate) -> Result<DateRange, PeriodError> {
        let range = self.try_resolve(today).ok_or(PeriodError::NotStarted)?;
        if range.start() > today {
            return Err(PeriodError::NotStarted);
        }
        Ok(range)
    }

    /// The period of the same length just before, for `compare`. Month-shaped periods compare
    /// with the same days of the previous month, so "mtd" on the 10th compares 1–10 with 1–10.
    pub fn previous(self, today: NaiveDate) -> DateRange {
        let current = self.resolve(today);
        let shifted = match self {
            Period::MonthToDate | Period::ThisMonth | Period::LastMonth | Period::Month(..) => {
                let start = current.start().checked_sub_months(Months::new(1));
                let end = current.end().checked_sub_months(Months::new(1));
                start.zip(end).and_then(|(start, end)| DateRange::new(start, end.max(plus(start, 1)?)).ok())
            }
            _ => {
                let len = u64::try_from(current.days().max(1)).unwrap_or(1);
                minus(current.start(), len).and_then(|start| DateRange::new(start, current.start()).ok())
            }
        };
        shifted.unwrap_or(current)
    }

    /// For a period still in progress (today is inside it), the part that has happened and the
    /// same part of the previous period, so `compare` sets like against like: "this month" on
    /// the 10th compares the 1st–10th with the 1st–10th, never with the whole previous month.
    /// `None` when the period is over; then the whole periods are compared.
    pub fn elapsed(self, today: NaiveDate) -> Option<Elapsed> {
        let range = self.resolve(today);
        if range.start() > today || range.end() <= today {
            return None;
        }
        let current = DateRange::new(range.start(), plus(today, 1)?).ok()?;
        let days = u64::try_from(current.days()).ok()?;
        let previous_start = self.previous(today).start();
        let previous_end = plus(previous_start, days)?;
        // The previous period may be shorter (March's 31st has no February twin): it is then
        // compared whole, and no day of it stands for today.
        let limit = self.previous(today).end().max(plus(previous_start, 1)?);
        let clipped = previous_end > limit;
        let previous = DateRange::new(previous_start, previous_end.min(limit)).ok()?;
        let twin_of_today = if clipped { None } else { minus(previous_end, 1) };
        Some(Elapsed { current, previous, twin_of_today })
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

    #[test]
    fn periods_in_progress_compare_the_same_elapsed_part() {
        let first = d("2026-12-01");
        let mtd = Period::MonthToDate.elapsed(first).unwrap();
        assert_eq!(mtd.current.to_string(), "2026-12-01..2026-12-02");
        assert_eq!(mtd.previous.to_string(), "2026-11-01..2026-11-02");
        assert_eq!(mtd.twin_of_today, Some(d("2026-11-01")));
        let month = Period::ThisMonth.elapsed(d("2026-12-10")).unwrap();
        assert_eq!(month.current.to_string(), "2026-12-01..2026-12-11");
        assert_eq!(month.previous.to_string(), "2026-11-01..2026-11-11");
        let today = Period::Today.elapsed(first).unwrap();
        assert_eq!(
            (today.previous.to_string(), today.twin_of_today),
            ("2026-11-30..2026-12-01".into(), Some(d("2026-11-30")))
        );
        let week = Period::LastDays(7).elapsed(d("2026-11-25")).unwrap();
        assert_eq!(week.previous.to_string(), "2026-11-12..2026-11-19");
        assert_eq!(week.twin_of_today, Some(d("2026-11-18")));
        // March 31st has no twin in February: February is compared whole.
        let long = Period::MonthToDate.elapsed(d("2027-03-31")).unwrap();
        assert_eq!((long.previous.to_string(), long.twin_of_today), ("2027-02-01..2027-03-01".into(), None));
        assert_eq!(Period::LastMonth.elapsed(first), None);
        assert_eq!(Period::Yesterday.elapsed(first), None);
        assert_eq!(Period::Month(2027, 1).elapsed(first), None);
    }

    #[test]
    fn extreme_dates_resolve_without_panicking() {
        let max = NaiveDate::MAX;
        let min = NaiveDate::MIN;
        for today in [max, min, d("2026-11-25")] {
            for p in [
                Period::Today,
                Period::Yesterday,
                Period::ThisWeek,
                Period::LastWeek,
                Period::LastDays(400),
                Period::MonthToDate,
                Period::ThisMonth,
                Period::LastMonth,
                Period::Month(262_142, 12),
                Period::Between(max, max),
                Period::Between(min, max),
            ] {
                let _ = p.resolve(today);
                let _ = p.previous(today);
                let _ = p.check(today);
            }
        }
    }

    #[test]
    fn future_periods_have_not_started() {
        let today = d("2026-11-25");
        assert_eq!(Period::Between(d("2099-12-31"), d("2099-12-31")).check(today), Err(PeriodError::NotStarted));
        assert_eq!(Period::Month(2026, 12).check(today), Err(PeriodError::NotStarted));
        assert_eq!(Period::ThisMonth.check(today).map(|r| r.to_string()), Ok("2026-11-01..2026-12-01".into()));
        assert!(Period::Between(d("2026-11-20"), d("2026-12-20")).check(today).is_ok(), "a period under way");
    }
}
