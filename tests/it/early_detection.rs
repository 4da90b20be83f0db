//! Early detection through the product's own path (`eval::series::replay`, the detection
//! job's pass with the default `[anomaly]` gates): how soon after a real change the first
//! alert is raised. Issue 17's targets: a step up within 2 days, a runaway ramp before it
//! doubles, a new service within a day, and a spike at hourly granularity on the same day.
//! Each shape is generated with several noise seeds so one lucky draw cannot pass it.

use crate::cost_shapes::{first, office, series, Noise};
use chrono::{Days, NaiveDate, NaiveDateTime, Timelike};
use costbot::domain::anomaly::{Point, ThresholdSet};
use costbot::domain::Granularity;
use costbot::eval::series::{replay, Gates, LabelledSeries, Which};
use rust_decimal::Decimal;

/// The day every change below starts on: well after the detector's warm-up.
fn change_day() -> NaiveDate {
    "2026-03-02".parse().unwrap()
}

/// When each alert was raised (the end of the period whose collection showed it), with the
/// default gates and the default `lookback_days` of 100.
fn raised(s: &LabelledSeries) -> Vec<NaiveDateTime> {
    let gates = Gates { thresholds: ThresholdSet::default(), lookback_days: 100 };
    let (alerts, replayed) = replay(s, Which::Costbot, &gates);
    assert!(replayed > 100, "{}: replayed only {replayed} periods", s.name);
    alerts.into_iter().map(|a| a.raised).collect()
}

/// The first alert raised on or after the change, failing if one was raised before it
/// (a false alert would make "early" meaningless).
fn first_alert_after_change(s: &LabelledSeries, change: NaiveDateTime) -> NaiveDateTime {
    let all = raised(s);
    let early: Vec<_> = all.iter().filter(|at| **at <= change).collect();
    assert!(early.is_empty(), "{}: false alerts before the change: {early:?}", s.name);
    *all.first().unwrap_or_else(|| panic!("{}: no alert after the change at {change}", s.name))
}

const SEEDS: [u64; 6] = [11, 12, 13, 14, 15, 16];

#[test]
fn a_step_up_alerts_within_two_days() {
    let change = change_day();
    for seed in SEEDS {
        // Office-hours spend of about $540 a day that rises by 40 % for good.
        let s = series(&format!("step_{seed}"), 400, seed, |day, noise| {
            let level = office(day, 600.0, 400.0, 0.05, noise);
            if day >= change {
                level * 1.4
            } else {
                level
            }
        });
        let at = first_alert_after_change(&s, change.and_hms_opt(0, 0, 0).unwrap());
        let limit = (change + Days::new(2)).and_hms_opt(0, 0, 0).unwrap();
        assert!(at <= limit, "{}: first alert at {at}, later than two days after the step", s.name);
    }
}

#[test]
fn a_runaway_ramp_alerts_before_it_doubles() {
    let change = change_day();
    for (seed, growth) in SEEDS.into_iter().zip([0.02, 0.03, 0.04, 0.05, 0.08, 0.12]) {
        // Spend that compounds by `growth` a day from the change on (a leak, a retry storm).
        let s = series(&format!("ramp_{seed}"), 400, seed, |day, noise| {
            let base = 500.0 * (1.0 + 0.04 * noise.next());
            let days = (day - change).num_days();
            if days >= 0 {
                base * (1.0_f64 + growth).powi(days as i32 + 1)
            } else {
                base
            }
        });
        let at = first_alert_after_change(&s, change.and_hms_opt(0, 0, 0).unwrap());
        // The last day seen by the run at `at` is the day before it; its factor over the base.
        let seen = (at.date() - change).num_days();
        let factor = (1.0_f64 + growth).powi(seen as i32);
        assert!(factor < 2.0, "{}: first alert at {at}, when the ramp was already ×{factor:.2}", s.name);
    }
}

#[test]
fn a_new_service_alerts_within_a_day() {
    let change = change_day();
    for seed in SEEDS {
        // Nothing for months, then about $150 a day from one day to the next.
        let s = series(&format!("new_{seed}"), 400, seed, |day, noise| {
            if day >= change {
                150.0 * (1.0 + 0.05 * noise.next())
            } else {
                0.0
            }
        });
        let at = first_alert_after_change(&s, change.and_hms_opt(0, 0, 0).unwrap());
        let limit = (change + Days::new(1)).and_hms_opt(0, 0, 0).unwrap();
        assert!(at <= limit, "{}: first alert at {at}, later than a day after the service appeared", s.name);
    }
}

/// `hours` hours of `amount(hour, noise)` in dollars, rounded to cents, from `first()`.
fn hourly(
    name: &str,
    hours: u64,
    seed: u64,
    mut amount: impl FnMut(NaiveDateTime, &mut Noise) -> f64,
) -> LabelledSeries {
    let mut noise = Noise(seed);
    let start = first().and_hms_opt(0, 0, 0).unwrap();
    let points = (0..hours)
        .map(|h| {
            let at = start + chrono::Duration::hours(h as i64);
            let cents = (amount(at, &mut noise) * 100.0).round() as i64;
            Point { at, amount: Decimal::new(cents, 2), estimated: false }
        })
        .collect();
    LabelledSeries { name: format!("shapes/{name}.csv"), granularity: Granularity::Hourly, points }
}

#[test]
fn an_hourly_spike_alerts_the_same_day() {
    // Six weeks of warm-up and history, then a spike on the morning of day 50.
    let spike_start = (first() + Days::new(50)).and_hms_opt(9, 0, 0).unwrap();
    for seed in SEEDS {
        // About $10 an hour by day and $6 by night, then four hours at $60.
        let s = hourly(&format!("spike_{seed}"), 24 * 60, seed, |at, noise| {
            let base = if (8..20).contains(&at.hour()) { 10.0 } else { 6.0 };
            let spiking = at >= spike_start && at < spike_start + chrono::Duration::hours(4);
            if spiking {
                60.0
            } else {
                base * (1.0 + 0.05 * noise.next())
            }
        });
        let at = first_alert_after_change(&s, spike_start);
        assert_eq!(at.date(), spike_start.date(), "{}: first alert at {at}, not on the day of the spike", s.name);
    }
}
