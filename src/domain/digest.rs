//! The daily digest's numbers, computed from one matrix of daily spend per service. Pure: the
//! caller reads the matrix (and the open anomalies and proposals) from the store; everything
//! the digest says about money is derived here, exactly.
//!
//! A day without any fact is "no data", never zero: Cost Explorer can be a day late, and a
//! digest that showed $0.00 for a day it has not seen yet would be believed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};

use super::forecast::{self, Forecast};
use super::Money;

/// Services shown as movers.
pub const MOVERS: usize = 5;
/// Days the chart covers, ending with the digest's day.
pub const CHART_DAYS: u64 = 30;
/// Services drawn separately in the chart; the rest are summed into "Other".
pub const CHART_SERVICES: usize = 5;

/// One cell of the spend matrix: a service's cost on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDay {
    /// The UTC cost day.
    pub day: NaiveDate,
    /// The service name.
    pub service: String,
    /// Exact cost.
    pub amount: Money,
    /// Cost Explorer marks the figure estimated.
    pub estimated: bool,
}

/// A figure compared with an earlier one. `None` fields mean there was no data for that day
/// or period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// The figure reported.
    pub current: Option<Money>,
    /// What it is compared with.
    pub previous: Option<Money>,
}

/// A service whose daily cost changed most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    /// The service.
    pub service: String,
    /// Its cost the day before.
    pub before: Money,
    /// Its cost on the digest's day.
    pub after: Money,
}

impl Mover {
    /// `after - before`.
    pub fn change(&self) -> Money {
        self.after - self.before
    }
}

/// One line of the chart: a service (or "Other") and its daily cost over [`CHART_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSeries {
    /// The label.
    pub label: String,
    /// One value per chart day, oldest first; `None` where no data exists.
    pub values: Vec<Option<Money>>,
}

/// What the chart shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The days, oldest first.
    pub days: Vec<NaiveDate>,
    /// Biggest services first, "Other" last.
    pub series: Vec<ChartSeries>,
    /// Daily totals (for the sparkline fallback); `None` where no data exists.
    pub totals: Vec<Option<Money>>,
}

/// The spend part of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendSummary {
    /// The day reported ("yesterday" when the digest is posted).
    pub day: NaiveDate,
    /// The day vs the day before.
    pub vs_day_before: Comparison,
    /// The day vs the same weekday a week earlier.
    pub vs_week_ago: Comparison,
    /// Month to date (1st of the day's month to the day) vs the same days of the month before.
    pub month_to_date: Comparison,
    /// Days of the month to date that have data, and how many days it spans.
    pub mtd_days: (u32, u32),
    /// The last day counted in the previous month's comparison (shorter months are clamped).
    pub previous_mtd_end: NaiveDate,
    /// True when any figure of the day is estimated.
    pub estimated: bool,
    /// Services with the biggest dollar change, biggest first.
    pub movers: Vec<Mover>,
    /// The month-end forecast for the month after the day (the month the digest is read in).
    pub forecast: Option<Forecast>,
    /// The last 30 days by top service.
    pub chart: Chart,
}

/// The first day whose data [`summarize`] needs for a digest about `day`.
pub fn needed_from(day: NaiveDate) -> NaiveDate {
    let previous_month_start = first_of_month(day) - Months::new(1);
    let forecast_start = (day + Days::new(1)) - Days::new(forecast::HISTORY_DAYS);
    let chart_start = day - Days::new(CHART_DAYS - 1);
    previous_month_start.min(forecast_start).min(chart_start).min(day - Days::new(7))
}

/// Computes the digest's figures for `day` from the matrix (any order; days outside the range
/// [`needed_from`] names are ignored where they do not belong).
pub fn summarize(day: NaiveDate, matrix: &[ServiceDay]) -> SpendSummary {
    let mut totals: BTreeMap<NaiveDate, Money> = BTreeMap::new();
    let mut by_service: BTreeMap<(&str, NaiveDate), Money> = BTreeMap::new();
    let mut estimated = false;
    for cell in matrix {
        *totals.entry(cell.day).or_default() += cell.amount;
        *by_service.entry((cell.service.as_str(), cell.day)).or_default() += cell.amount;
        estimated |= cell.day == day && cell.estimated;
    }
    let on = |d: NaiveDate| totals.get(&d).copied();
    let day_before = day - Days::new(1);
    let month_start = first_of_month(day);
    let previous_start = month_start - Months::new(1);
    // The same day number last month, clamped to that month's length (Mar 31 → Feb 28).
    let previous_mtd_end = previous_start.with_day(day.day()).unwrap_or(month_start - Days::new(1));
    let (mtd, mtd_days) = sum_between(&totals, month_start, day);
    let (previous_mtd, _) = sum_between(&totals, previous_start, previous_mtd_end);
    let daily: Vec<(NaiveDate, Money)> = totals.iter().map(|(d, m)| (*d, *m)).collect();
    SpendSummary {
        day,
        vs_day_before: Comparison { current: on(day), previous: on(day_before) },
        vs_week_ago: Comparison { current: on(day), previous: on(day - Days::new(7)) },
        month_to_date: Comparison { current: mtd, previous: previous_mtd },
        mtd_days: (mtd_days, day.day()),
        previous_mtd_end,
        estimated,
        movers: movers(&by_service, day, day_before),
        forecast: forecast::month_end(day + Days::new(1), &daily),
        chart: chart(&totals, &by_service, day),
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Sum of the days `from..=to` that have data, and how many did; `None` when none did.
fn sum_between(totals: &BTreeMap<NaiveDate, Money>, from: NaiveDate, to: NaiveDate) -> (Option<Money>, u32) {
    let days: Vec<Money> = totals.range(from..=to).map(|(_, m)| *m).collect();
    let count = days.len() as u32;
    (if days.is_empty() { None } else { Some(days.into_iter().sum()) }, count)
}

/// The services with the largest absolute dollar change from `before` to `day`. A service
/// missing on one of the days counts as zero there, but only when that day has data at all
/// (the caller shows no movers for a day without data).
fn movers(by_service: &BTreeMap<(&str, NaiveDate), Money>, day: NaiveDate, before: NaiveDate) -> Vec<Mover> {
    let has = |d: NaiveDate| by_service.keys().any(|(_, at)| *at == d);
    if !has(day) || !has(before) {
        return Vec::new();
    }
    let services: BTreeSet<&str> =
        by_service.keys().filter(|(_, d)| *d == day || *d == before).map(|(s, _)| *s).collect();
    let mut list: Vec<Mover> = services
        .into_iter()
        .map(|s| Mover {
            service: s.to_string(),
            before: by_service.get(&(s, before)).copied().unwrap_or(Money::ZERO),
            after: by_service.get(&(s, day)).copied().unwrap_or(Money::ZERO),
        })
        .filter(|m| m.change() != Money::ZERO)
        .collect();
    list.sort_by(|a, b| b.change().abs().cmp(&a.change().abs()).then_with(|| a.service.cmp(&b.service)));
    list.truncate(MOVERS);
    list
}

/// The chart: the [`CHART_SERVICES`] biggest services over the window, and the rest as
/// "Other", day by day.
fn chart(
    totals: &BTreeMap<NaiveDate, Money>,
    by_service: &BTreeMap<(&str, NaiveDate), Money>,
    day: NaiveDate,
) -> Chart {
    let first = day - Days::new(CHART_DAYS - 1);
    let days: Vec<NaiveDate> = first.iter_days().take(CHART_DAYS as usize).collect();
    let mut window_totals: BTreeMap<&str, Money> = BTreeMap::new();
    for ((service, at), amount) in by_service {
        if *at >= first && *at <= day {
            *window_totals.entry(service).or_default() += *amount;
        }
    }
    let mut ranked: Vec<(&str, Money)> = window_totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let top: Vec<&str> = ranked.iter().take(CHART_SERVICES).map(|(s, _)| *s).collect();
    let day_totals: Vec<Option<Money>> = days.iter().map(|d| totals.get(d).copied()).collect();
    let mut series: Vec<ChartSeries> = top
        .iter()
        .map(|s| ChartSeries {
            label: s.to_string(),
            values: days
                .iter()
                .map(|d| totals.get(d).map(|_| by_service.get(&(*s, *d)).copied().unwrap_or(Money::ZERO)))
                .collect(),
        })
        .collect();
    if ranked.len() > top.len() {
        let values = days
            .iter()
            .zip(&day_totals)
            .map(|(d, total)| {
                total.map(|t| t - top.iter().filter_map(|s| by_service.get(&(*s, *d))).copied().sum::<Money>())
            })
            .collect();
        series.push(ChartSeries { label: "Other".into(), values });
    }
    Chart { days, series, totals: day_totals }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn cell(day: &str, service: &str, amount: &str) -> ServiceDay {
        ServiceDay { day: d(day), service: service.into(), amount: m(amount), estimated: false }
    }

    #[test]
    fn a_day_without_data_is_none_not_zero() {
        let matrix = vec![cell("2026-11-22", "EC2", "10"), cell("2026-11-23", "EC2", "12")];
        let s = summarize(d("2026-11-24"), &matrix);
        assert_eq!(s.vs_day_before, Comparison { current: None, previous: Some(m("12")) });
        assert!(s.movers.is_empty());
        assert_eq!(s.mtd_days, (2, 24));
        assert_eq!(s.month_to_date.current, Some(m("22")));
        assert_eq!(s.month_to_date.previous, None);
    }

    #[test]
    fn movers_rank_by_absolute_dollar_change_and_count_a_missing_service_as_zero() {
        let matrix = vec![
            cell("2026-11-23", "EC2", "100"),
            cell("2026-11-24", "EC2", "90"),
            cell("2026-11-23", "S3", "5"),
            cell("2026-11-24", "S3", "5"),
            cell("2026-11-24", "Bedrock", "40"),
            cell("2026-11-23", "Lambda", "15"),
        ];
        let s = summarize(d("2026-11-24"), &matrix);
        let got: Vec<(&str, Money)> = s.movers.iter().map(|m| (m.service.as_str(), m.change())).collect();
        assert_eq!(got, vec![("Bedrock", m("40")), ("Lambda", m("-15")), ("EC2", m("-10"))]);
    }

    #[test]
    fn month_to_date_is_compared_with_the_same_days_clamped_to_a_shorter_month() {
        let s = summarize(d("2026-03-31"), &[cell("2026-02-28", "EC2", "1"), cell("2026-03-31", "EC2", "2")]);
        assert_eq!(s.previous_mtd_end, d("2026-02-28"));
        assert_eq!(s.month_to_date, Comparison { current: Some(m("2")), previous: Some(m("1")) });
        assert!(needed_from(d("2026-03-31")) <= d("2026-02-01"));
    }

    #[test]
    fn the_chart_keeps_top_services_and_sums_the_rest_exactly() {
        let mut matrix = Vec::new();
        for (i, service) in ["A", "B", "C", "D", "E", "F", "G"].iter().enumerate() {
            matrix.push(cell("2026-11-24", service, &format!("{}.01", 10 - i)));
        }
        let s = summarize(d("2026-11-24"), &matrix);
        assert_eq!(s.chart.days.len(), CHART_DAYS as usize);
        let labels: Vec<&str> = s.chart.series.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, vec!["A", "B", "C", "D", "E", "Other"]);
        assert_eq!(s.chart.series[5].values.last().copied().flatten(), Some(m("9.02")));
        assert_eq!(s.chart.series[0].values[0], None, "a day with no data stays empty");
    }
}
