//! Real cost shapes through the product's own path: each series is replayed day by day as
//! collections arrive, through `eval::series::replay` (the detection job's pass: the detector
//! with the default `[anomaly]` gates, reconciliation with the open anomalies, roll-up
//! suppression), and every opened anomaly counts as an alert. None of these shapes is an
//! anomaly, so none may alert.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};
use costbot::domain::anomaly::{Point, ThresholdSet};
use costbot::domain::Granularity;
use costbot::eval::series::{replay, warmup, Gates, LabelledSeries, Which};
use rust_decimal::Decimal;

/// The first day of every series: long enough before the holidays that the detector has
/// warmed up by then.
pub(crate) fn first() -> NaiveDate {
    "2025-06-01".parse().unwrap()
}

/// A deterministic noise source in [-1, 1] (a linear congruential generator), so every run
/// sees the same series.
pub(crate) struct Noise(pub(crate) u64);

impl Noise {
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// `days` days of `amount(day, noise)` in dollars, rounded to cents.
pub(crate) fn series(
    name: &str,
    days: u64,
    seed: u64,
    mut amount: impl FnMut(NaiveDate, &mut Noise) -> f64,
) -> LabelledSeries {
    let mut noise = Noise(seed);
    let points = (0..days)
        .map(|i| {
            let day = first() + Days::new(i);
            let cents = (amount(day, &mut noise) * 100.0).round() as i64;
            Point { at: day.and_hms_opt(0, 0, 0).unwrap(), amount: Decimal::new(cents, 2), estimated: false }
        })
        .collect();
    LabelledSeries { name: format!("shapes/{name}.csv"), granularity: Granularity::Daily, points }
}

/// Weekday spend with a quieter weekend and ±`jitter` relative noise.
pub(crate) fn office(day: NaiveDate, weekday: f64, weekend: f64, jitter: f64, noise: &mut Noise) -> f64 {
    let base = if day.weekday().number_from_monday() >= 6 { weekend } else { weekday };
    base * (1.0 + jitter * noise.next())
}

/// The days the replayed pass opened an anomaly on, after the detector's warm-up, with the
/// default `[anomaly]` gates and `lookback_days`.
fn alerts(s: &LabelledSeries) -> Vec<NaiveDateTime> {
    alerts_with(s, ThresholdSet::default())
}

fn alerts_with(s: &LabelledSeries, thresholds: ThresholdSet) -> Vec<NaiveDateTime> {
    let gates = Gates { thresholds, lookback_days: 100 };
    let (alerts, replayed) = replay(s, Which::Costbot, &gates);
    assert!(replayed > 200, "{}: replayed {replayed} days after a warm-up of {}", s.name, warmup(s));
    alerts.into_iter().map(|a| a.start).collect()
}

#[test]
fn monthly_charges_on_the_first_do_not_alert() {
    // Support, Savings Plan / RI fees and tax land on the 1st of every month.
    let s = series("monthly", 540, 1, |day, noise| {
        let monthly = if day.day() == 1 { 2_500.0 + 150.0 } else { 0.0 };
        office(day, 400.0, 250.0, 0.04, noise) + monthly
    });
    assert_eq!(alerts(&s), Vec::<NaiveDateTime>::new());
}

#[test]
fn weekly_batch_days_do_not_alert() {
    // A batch job makes every Sunday ten times a normal day.
    let s = series("batch", 540, 2, |day, noise| {
        let batch = if day.weekday().number_from_monday() == 7 { 1_500.0 } else { 0.0 };
        150.0 * (1.0 + 0.05 * noise.next()) + batch
    });
    assert_eq!(alerts(&s), Vec::<NaiveDateTime>::new());
}

#[test]
fn tiny_noisy_series_do_not_alert() {
    // A few dollars a day, with a jump to five times that now and then: nothing worth a page.
    let s = series("tiny", 540, 3, |day, noise| {
        let jump = if day.ordinal() % 37 == 0 { 20.0 } else { 0.0 };
        (4.0 + 3.0 * noise.next()).max(0.0) + jump
    });
    assert_eq!(alerts(&s), Vec::<NaiveDateTime>::new());
}

#[test]
fn holidays_do_not_alert() {
    // Christmas to New Year's Day at 40 % of a normal day (people are away).
    let s = series("holidays", 540, 4, |day, noise| {
        let away = (day.month() == 12 && day.day() >= 24) || (day.month() == 1 && day.day() == 1);
        office(day, 1_000.0, 300.0, 0.03, noise) * if away { 0.4 } else { 1.0 }
    });
    assert_eq!(alerts(&s), Vec::<NaiveDateTime>::new());
}

#[test]
fn credits_and_refunds_as_negative_days_do_not_alert() {
    // A credit or refund lands now and then as a day below zero.
    let s = series("credits", 540, 5, |day, noise| {
        let credit = if day.ordinal() % 45 == 7 { -900.0 } else { 0.0 };
        office(day, 500.0, 350.0, 0.04, noise) + credit
    });
    assert_eq!(alerts(&s), Vec::<NaiveDateTime>::new());
}

#[test]
fn a_planned_decommission_informs_and_alerts_only_when_drops_are_configured_to() {
    // A $600-a-day database switched off for good on 2026-09-01.
    let off: NaiveDate = "2026-09-01".parse().unwrap();
    let s =
        series("decommission", 540, 6, |day, noise| if day >= off { 0.0 } else { 600.0 * (1.0 + 0.03 * noise.next()) });
    assert_eq!(alerts(&s), Vec::<NaiveDateTime>::new(), "a drop is information by default");
    let configured = ThresholdSet { alert_drops: true, ..ThresholdSet::default() };
    let raised = alerts_with(&s, configured);
    assert_eq!(raised, vec![off.and_hms_opt(0, 0, 0).unwrap()], "with `alert_drops = true` it alerts once");
}
