//! Tests of what feedback does: the rules on their own, and through one detection pass.

use super::*;
use crate::domain::anomaly::pass::{apply, run_pass};
use crate::domain::anomaly::{Detector, DetectorConfig, Kind, Point, Severity, ThresholdSet};
use crate::domain::incident::{Change, Scope, Status};
use crate::domain::{AccountId, ServiceName};
use chrono::Days;

fn at(d: &str) -> NaiveDateTime {
    format!("{d}T00:00:00").parse().unwrap()
}

fn key(account: &str, service: &str) -> SeriesKey {
    SeriesKey {
        granularity: Granularity::Daily,
        scope: Scope::Service {
            account: AccountId::parse(account).unwrap(),
            service: ServiceName::parse(service).unwrap(),
        },
    }
}

fn feedback(key: &SeriesKey, anomaly: &str, verdict: Verdict, on: &str, impact: i64, level: i64) -> Feedback {
    Feedback {
        anomaly: AnomalyId(anomaly.into()),
        key: key.clone(),
        verdict,
        by: "person:ana".into(),
        at: at(on),
        start: at(on) - Duration::days(2),
        impact: Money::from_cents(impact * 100),
        level: Money::from_cents(level * 100),
        before: Money::from_cents(10_000),
    }
}

fn finding(start: &str, days: usize, per_day: i64, expected_per_day: i64) -> Finding {
    let n = Decimal::from(days as u64);
    Finding {
        start: at(start),
        end: at(start) + Duration::days(days as i64 - 1),
        ongoing: true,
        expected: Decimal::from(expected_per_day) * n,
        actual: Decimal::from(per_day) * n,
        impact: Decimal::from(per_day - expected_per_day) * n,
        percent: Decimal::from(100),
        score: 12.0,
        severity: Severity::High,
        kind: Kind::LevelShift,
        provisional: false,
        points: days,
    }
}

#[test]
fn not_an_anomaly_raises_the_floor_to_one_and_a_half_times_the_largest_impact() {
    let k = key("222222222222", "AWS Lambda");
    let t = tuning(&[
        feedback(&k, "an-1", Verdict::NotAnAnomaly, "2026-11-01", 80, 0),
        feedback(&k, "an-2", Verdict::NotAnAnomaly, "2026-11-10", -40, 0),
        feedback(&k, "an-3", Verdict::Real, "2026-11-12", 500, 0),
    ]);
    let tuned = &t[&k];
    assert_eq!(tuned.floor, Some(Decimal::from(120)), "max(1.5 × 80, 1.5 × 40)");
    let g = Granularity::Daily;
    assert!(tuned.silences(&finding("2026-11-20", 1, 219, 100), g), "$119 is under the floor");
    assert!(!tuned.silences(&finding("2026-11-20", 1, 220, 100), g), "$120 is not");
    assert!(!tuned.silences(&finding("2026-11-20", 1, -30, 100), g), "nor is a drop of $130");
    assert!(!t.contains_key(&key("222222222222", "Other")), "only the answered series is tuned");
}

#[test]
fn an_expected_level_covers_the_same_shift_but_not_a_further_jump() {
    let k = key("222222222222", "Amazon EC2");
    let t = tuning(&[feedback(&k, "an-1", Verdict::Expected, "2026-11-10", 600, 300)]);
    let tuned = &t[&k];
    let g = Granularity::Daily;
    assert!(tuned.silences(&finding("2026-11-08", 3, 300, 100), g), "the accepted shift itself");
    assert!(tuned.silences(&finding("2026-11-07", 4, 350, 100), g), "re-scored a day earlier, within 20 %");
    assert!(!tuned.silences(&finding("2026-11-12", 2, 700, 300), g), "a further jump still alerts");
    assert!(!tuned.silences(&finding("2026-10-01", 2, 300, 100), g), "an older incident is not covered");
    assert!(!tuned.silences(&finding("2026-11-12", 2, 20, 300), g), "a drop is a different change");
    // A planned decrease: later, lower findings down to 80 % of the accepted level are covered.
    let down =
        Feedback { level: Money::from_cents(2_000), ..feedback(&k, "an-2", Verdict::Expected, "2026-11-20", -240, 0) };
    let t = tuning(&[down]);
    assert!(t[&k].silences(&finding("2026-11-18", 3, 20, 100), g));
    assert!(!t[&k].silences(&finding("2026-11-18", 3, 300, 100), g));
}

#[test]
fn precision_counts_each_anomaly_once_with_its_latest_verdict_per_account() {
    let (a, b) = (key("111111111111", "Amazon EC2"), key("222222222222", "Amazon S3"));
    let org = SeriesKey { granularity: Granularity::Daily, scope: Scope::Organisation };
    let rows = precision(
        &[
            feedback(&a, "an-1", Verdict::NotAnAnomaly, "2026-11-01", 80, 0),
            feedback(&a, "an-1", Verdict::Real, "2026-11-02", 80, 0),
            feedback(&a, "an-2", Verdict::Real, "2026-11-03", 80, 0),
            feedback(&a, "an-3", Verdict::NotAnAnomaly, "2026-11-03", 80, 0),
            feedback(&a, "an-4", Verdict::Expected, "2026-11-04", 80, 0),
            feedback(&b, "an-5", Verdict::Real, "2026-06-01", 80, 0),
            feedback(&org, "an-6", Verdict::NotAnAnomaly, "2026-11-05", 80, 0),
        ],
        at("2026-09-01"),
    );
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.account.as_ref().map(|a| a.to_string()), r.real, r.not_an_anomaly, r.expected, r.percent()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("111111111111".to_string()), 2, 1, 1, Some("66.7".parse().unwrap())),
            (None, 0, 1, 0, Some(Decimal::ZERO)),
        ],
        "the June answer is outside the window; organisation totals come last"
    );
}

/// A series of `days` days at $100 a day that steps to `after` dollars a day from day `step`.
fn stepped(days: u64, step: u64, after: i64) -> Vec<Point> {
    let first = at("2026-08-01");
    (0..days)
        .map(|i| {
            let base = if i >= step { after } else { 100 };
            // A little weekly shape so the model has noise to measure.
            let wiggle = [0, 3, -2, 4, -3, 1, -1][(i % 7) as usize];
            Point { at: first + Days::new(i), amount: Decimal::from(base + wiggle), estimated: false }
        })
        .collect()
}

fn pass_at(points: &[Point], day: u64, open: &[Anomaly], tuned: &BTreeMap<SeriesKey, SeriesTuning>) -> Vec<Change> {
    let k = key("222222222222", "Amazon EC2");
    let as_of = at("2026-08-01") + Days::new(day);
    let visible: Vec<Point> = points.iter().copied().filter(|p| p.at < as_of).collect();
    let mut detector = Detector::new(DetectorConfig::default());
    run_pass(
        |p, g, t, thr| detector.detect(p, g, t, thr),
        [(&k, visible.as_slice())],
        open,
        as_of,
        &ThresholdSet::default(),
        tuned,
    )
    .changes
}

#[test]
fn after_expected_the_same_shift_resolves_and_never_reopens_but_a_further_jump_alerts() {
    let points = stepped(120, 70, 400);
    let mut open = Vec::new();
    let first = pass_at(&points, 72, &open, &BTreeMap::new());
    apply(&mut open, &first);
    assert_eq!(open.len(), 1, "the step up alerts: {open:?}");
    let accepted = Feedback::on(&open[0], Verdict::Expected, "person:ana", at("2026-10-12"));
    let tuned = tuning(&[accepted]);
    let changes = pass_at(&points, 73, &open, &tuned);
    assert!(matches!(changes.as_slice(), [Change::Resolved(a)] if a.status == Status::Resolved), "{changes:?}");
    apply(&mut open, &changes);
    for day in 74..120 {
        let changes = pass_at(&points, day, &open, &tuned);
        assert!(changes.iter().all(|c| !matches!(c, Change::Opened(_))), "day {day}: {changes:?}");
        apply(&mut open, &changes);
    }
    // The same history with a second, larger step after the accepted one still alerts.
    let mut jumped = stepped(120, 70, 400);
    for p in jumped.iter_mut().skip(80) {
        p.amount += Decimal::from(600);
    }
    let opened: Vec<_> = (81..84)
        .flat_map(|day| pass_at(&jumped, day, &[], &tuned))
        .filter(|c| matches!(c, Change::Opened(_)))
        .collect();
    assert!(!opened.is_empty(), "a further jump past the accepted level alerts");
}

#[test]
fn after_not_an_anomaly_a_spike_of_the_same_size_on_that_series_does_not_alert_again() {
    // One-day spikes of +$300 on days 70 and 100.
    let mut points = stepped(120, 120, 100);
    for day in [70, 100] {
        points[day].amount += Decimal::from(300);
    }
    let first: Vec<Anomaly> = pass_at(&points, 71, &[], &BTreeMap::new())
        .into_iter()
        .filter_map(|c| match c {
            Change::Opened(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(first.len(), 1, "the first spike alerts");
    let opened = |tuned: &BTreeMap<SeriesKey, SeriesTuning>| {
        pass_at(&points, 101, &[], tuned).into_iter().filter(|c| matches!(c, Change::Opened(_))).count()
    };
    assert_eq!(opened(&BTreeMap::new()), 1, "untuned, the second spike alerts too");
    let tuned = tuning(&[Feedback::on(&first[0], Verdict::NotAnAnomaly, "person:ana", at("2026-10-12"))]);
    assert_eq!(opened(&tuned), 0, "with the floor at 1.5 × the first spike's impact it does not");
}
