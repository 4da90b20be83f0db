//! Behaviour tests of the cost detector through its public API.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use costbot::domain::anomaly::{
    score_series, Detector, Finding, Granularity, Kind, Point, Severity, StreamParams, ThresholdSet, Thresholds,
};
use costbot::eval::scenarios::Rng;
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

fn day(n: i64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap() + Duration::days(n)
}

fn dec(v: f64) -> Decimal {
    Decimal::from_f64(v).unwrap().round_dp(2)
}

/// Daily series for days `0..n` from `f(day) -> amount`, with mild deterministic noise.
fn series(n: i64, noise: f64, f: impl Fn(i64) -> f64) -> Vec<Point> {
    let mut rng = Rng::new(n as u64 + 17);
    (0..n).map(|d| Point { at: day(d), amount: dec(f(d) * (1.0 + noise * rng.normal())), estimated: false }).collect()
}

fn weekly(d: i64) -> f64 {
    // 2024-01-01 is a Monday, so d % 7 in {5, 6} is the weekend.
    if d % 7 >= 5 {
        300.0
    } else {
        1000.0
    }
}

fn detect(points: &[Point], as_of_day: i64) -> Vec<Finding> {
    Detector::default().detect(points, Granularity::Daily, day(as_of_day), &Thresholds::default())
}

/// Run the detector as the product does, once per day, and return incidents (findings merged
/// when they overlap or touch an earlier one).
fn replay(points: &[Point], from: i64, to: i64) -> Vec<Finding> {
    let mut det = Detector::default();
    let mut incidents: Vec<Finding> = Vec::new();
    for d in from..to {
        for f in det.detect(points, Granularity::Daily, day(d + 1), &Thresholds::default()) {
            check_invariants(&f);
            if !incidents.iter().any(|i| i.same_incident(&f, Duration::days(1))) {
                incidents.push(f);
            }
        }
    }
    incidents
}

fn check_invariants(f: &Finding) {
    assert!(f.score.is_finite() && f.score >= 0.0, "{f:?}");
    assert_eq!(f.impact, f.actual - f.expected, "{f:?}");
    assert!(f.percent.abs() <= Decimal::from(10_000), "{f:?}");
    assert!(f.start <= f.end, "{f:?}");
}

#[test]
fn bad_inputs_do_not_panic() {
    let thr = Thresholds::default();
    let mut det = Detector::default();
    assert!(det.detect(&[], Granularity::Daily, day(10), &thr).is_empty());
    let zeros = series(200, 0.0, |_| 0.0);
    assert!(det.detect(&zeros, Granularity::Daily, day(200), &thr).is_empty());
    let single = vec![Point { at: day(0), amount: dec(123.0), estimated: false }];
    assert!(det.detect(&single, Granularity::Daily, day(1), &thr).iter().all(|f| f.score.is_finite()));
    let credits = series(200, 0.3, |d| if d % 5 == 0 { -400.0 } else { 100.0 });
    let huge = series(200, 0.05, |d| if d == 198 { 9e15 } else { 1e15 });
    let gaps: Vec<Point> =
        series(200, 0.05, weekly).into_iter().filter(|p| p.at.and_utc().timestamp() % 3 != 0).collect();
    let mut dups = series(200, 0.05, weekly);
    dups.insert(199, Point { at: day(199), amount: dec(99_999.0), estimated: false });
    let extreme: Vec<Point> = (0..100)
        .map(|d| Point { at: day(d), amount: if d % 2 == 0 { Decimal::MAX } else { Decimal::MIN }, estimated: d > 95 })
        .collect();
    let mut unsorted = series(100, 0.05, weekly);
    unsorted.reverse();
    for s in [&credits, &huge, &gaps, &dups, &extreme, &unsorted] {
        for g in [Granularity::Daily, Granularity::Hourly] {
            for f in det.detect(s, g, day(200), &thr) {
                check_invariants(&f);
            }
        }
    }
    // Duplicated timestamps keep the last point: the 99,999 entry is overwritten.
    assert!(det.detect(&dups, Granularity::Daily, day(200), &thr).is_empty());
}

#[test]
fn huge_values_are_scored_exactly() {
    let mut s = series(200, 0.02, |_| 1e13);
    s[199].amount = dec(5e13);
    let f = detect(&s, 200);
    assert_eq!(f.len(), 1, "{f:?}");
    check_invariants(&f[0]);
    assert_eq!(f[0].actual, s[199].amount);
}

#[test]
fn weekly_seasonality_does_not_alert() {
    let s = series(300, 0.05, weekly);
    assert!(replay(&s, 150, 300).is_empty());
}

#[test]
fn ten_percent_monthly_growth_does_not_alert() {
    let s = series(400, 0.05, |d| weekly(d) * 1.1f64.powf(d as f64 / 30.0));
    assert!(replay(&s, 100, 400).is_empty());
}

#[test]
fn spike_alerts_with_exact_money() {
    let mut s = series(200, 0.03, weekly);
    s[190].amount = dec(3000.0); // a Wednesday
    s[191].amount = dec(2500.55);
    let f = detect(&s, 193);
    assert_eq!(f.len(), 1, "{f:?}");
    let f = &f[0];
    check_invariants(f);
    assert_eq!((f.start, f.end, f.points), (day(190), day(191), 2));
    assert!(!f.ongoing);
    assert_eq!(f.kind, Kind::Spike);
    assert_eq!(f.actual, dec(5500.55));
    // Expected is the sum of per-day expectations in cents, near 2 x 1000.
    assert!((f.expected - Decimal::from(2000)).abs() < Decimal::from(100), "{f:?}");
    assert_eq!(f.expected.scale().min(2), f.expected.scale());
    assert!(f.severity >= Severity::High, "{f:?}");
}

#[test]
fn tiny_dollar_jump_does_not_alert() {
    let s = series(200, 0.0, |d| if d >= 197 { 1.60 } else { 0.40 });
    assert!(detect(&s, 200).is_empty());
}

#[test]
fn new_service_alerts_as_new_spend() {
    let zeros_then = series(200, 0.05, |d| if d >= 198 { 500.0 } else { 0.0 });
    let f = detect(&zeros_then, 200);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].kind, f[0].start, f[0].ongoing), (Kind::NewSpend, day(198), true));
    assert_eq!(f[0].expected, Decimal::ZERO);
    // No rows at all before the first spend behaves the same.
    let only_new: Vec<Point> = zeros_then[198..].to_vec();
    let f = detect(&only_new, 200);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, Kind::NewSpend);
}

#[test]
fn partial_current_day_is_ignored() {
    let mut s = series(200, 0.03, weekly);
    // Day 199 is today (incomplete): a huge partial value there must not alert.
    s[199].amount = dec(50_000.0);
    let today = day(199) + Duration::hours(15);
    let det = &mut Detector::default();
    assert!(det.detect(&s, Granularity::Daily, today, &Thresholds::default()).is_empty());
    // Once the day is complete it does.
    assert_eq!(det.detect(&s, Granularity::Daily, day(200), &Thresholds::default()).len(), 1);
}

#[test]
fn level_shift_alerts_once_then_becomes_normal() {
    let s = series(300, 0.04, |d| weekly(d) * if d >= 200 { 2.0 } else { 1.0 });
    let incidents = replay(&s, 150, 300);
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].start, day(200));
    // Three weeks later the new level is normal: nothing in the recent window.
    assert!(detect(&s, 230).is_empty());
    // While it lasts it is classified as a level shift.
    let mid = detect(&s, 206);
    assert_eq!(mid.len(), 1);
    assert_eq!((mid[0].kind, mid[0].start), (Kind::LevelShift, day(200)));
}

#[test]
fn estimated_only_findings_are_provisional() {
    let mut s = series(200, 0.03, weekly);
    s[199] = Point { at: day(199), amount: dec(5000.0), estimated: true };
    let f = detect(&s, 200);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].provisional);
    assert!(f[0].severity <= Severity::Medium);
    // A provisional drop is not reported at all.
    s[199] = Point { at: day(199), amount: dec(10.0), estimated: true };
    assert!(detect(&s, 200).is_empty());
}

#[test]
fn sustained_drop_is_reported_with_capped_severity() {
    let s = series(200, 0.03, |d| weekly(d) * if d >= 196 { 0.1 } else { 1.0 });
    let f = detect(&s, 200);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, Kind::Drop);
    assert!(f[0].impact < Decimal::ZERO && f[0].severity <= Severity::Medium);
}

#[test]
fn hourly_daily_and_weekly_pattern() {
    let hour = |h: i64| day(0) + Duration::hours(h);
    let shape = |h: i64| {
        let business = (8..20).contains(&(h % 24));
        let weekend = (h / 24) % 7 >= 5;
        (if business { 40.0 } else { 10.0 }) * if weekend { 0.5 } else { 1.0 }
    };
    let mut rng = Rng::new(3);
    let mut pts: Vec<Point> = (0..24 * 42)
        .map(|h| Point { at: hour(h), amount: dec(shape(h) * (1.0 + 0.03 * rng.normal())), estimated: false })
        .collect();
    let mut det = Detector::default();
    let thr = Thresholds::default();
    for end in (24 * 36..24 * 42).step_by(7) {
        assert!(det.detect(&pts, Granularity::Hourly, hour(end), &thr).is_empty(), "false alert at hour {end}");
    }
    let n = pts.len();
    pts[n - 3].amount = dec(400.0);
    let f = det.detect(&pts, Granularity::Hourly, hour(24 * 42), &thr);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].start, hour(24 * 42 - 3));
}

#[test]
fn per_key_thresholds() {
    let mut set = ThresholdSet::default();
    set.overrides.insert("acct/EC2".into(), Thresholds { min_impact: Decimal::ONE, ..Thresholds::default() });
    let s = series(200, 0.0, |d| if d >= 197 { 1.60 } else { 0.40 });
    let mut det = Detector::default();
    assert!(det.detect(&s, Granularity::Daily, day(200), set.thresholds_for("other")).is_empty());
    assert_eq!(det.detect(&s, Granularity::Daily, day(200), set.thresholds_for("acct/EC2")).len(), 1);
}

#[test]
fn random_junk_never_panics_or_produces_nan() {
    let mut rng = Rng::new(99);
    let mut det = Detector::default();
    for case in 0..400 {
        let n = rng.int(0, 160) as i64;
        let scale = [0.0, 0.01, 1.0, 1e3, 1e9, 1e15][case % 6];
        let mut pts: Vec<Point> = Vec::new();
        for d in 0..n {
            if rng.unit() < 0.2 {
                continue;
            }
            let v = scale * rng.normal() * if rng.unit() < 0.05 { 50.0 } else { 1.0 };
            // d / 2 * 2 duplicates every timestamp.
            pts.push(Point { at: day(d / 2 * 2), amount: dec(v), estimated: rng.unit() < 0.3 });
        }
        if case % 7 == 0 {
            pts.reverse();
        }
        let thr = Thresholds { min_score: rng.range(0.0, 8.0), min_impact: Decimal::ZERO, min_percent: Decimal::ZERO };
        for g in [Granularity::Daily, Granularity::Hourly] {
            for f in det.detect(&pts, g, day(n.max(1)), &thr) {
                check_invariants(&f);
            }
        }
        let vals: Vec<f64> = pts.iter().map(|p| p.amount.try_into().unwrap_or(f64::NAN)).collect();
        for s in score_series(&vals, &StreamParams::default()) {
            assert!((0.0..=1.0).contains(&s));
        }
    }
}

#[test]
fn streaming_scores_are_bounded_and_causal() {
    assert!(score_series(&[], &StreamParams::default()).is_empty());
    let mut v: Vec<f64> = (0..600).map(|i| 10.0 + (i % 7) as f64 * 0.1).collect();
    v[400] = f64::NAN;
    v[500] = 100.0;
    let s = score_series(&v, &StreamParams::default());
    assert_eq!(s.len(), v.len());
    assert!(s.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(s[500] > 0.9);
    // Causality: changing the future does not change past scores.
    let mut w = v.clone();
    w[550] = -1e6;
    assert_eq!(score_series(&w, &StreamParams::default())[..550], s[..550]);
}

#[test]
fn stale_keys_and_collection_lag() {
    // A key that stopped reporting long ago does not re-report its last incident.
    let mut s = series(100, 0.03, weekly);
    s[99].amount = dec(9000.0);
    assert_eq!(detect(&s, 100).len(), 1);
    assert!(detect(&s, 200).is_empty());
    // Two days of lag: the anomaly on the newest day with data is still ongoing.
    let f = detect(&s, 102);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].ongoing);
}

#[test]
fn a_missing_day_does_not_split_an_incident() {
    let mut s = series(200, 0.03, weekly);
    s[190].amount = dec(3000.0);
    s[192].amount = dec(3000.0);
    s.remove(191);
    let f = detect(&s, 195);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].start, f[0].end, f[0].points), (day(190), day(192), 2));
    assert_eq!(f[0].actual, dec(6000.0));
}

#[test]
fn recurring_monthly_charge_is_not_an_anomaly_unless_it_grows() {
    use chrono::Datelike;
    let fee = |d: i64, f: f64| if day(d).day() == 1 { f } else { 0.0 };
    let s = series(330, 0.04, |d| weekly(d) + fee(d, 3000.0));
    // From April on, every 1st has two previous 1sts to compare with.
    assert!(replay(&s, 95, 330).is_empty());
    // The same charge tripling on Nov 1st (day 305) alerts.
    let grown = series(330, 0.04, |d| weekly(d) + fee(d, if d == 305 { 9000.0 } else { 3000.0 }));
    let f = detect(&grown, 306);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].start, day(305));
}

#[test]
fn run_start_is_stable_across_days() {
    // An eight-day excursion seen from each following day keeps its start while it is in the
    // recent window, and its end is not reported as a drop.
    let s = series(220, 0.03, |d| weekly(d) * if (200..208).contains(&d) { 3.0 } else { 1.0 });
    for as_of in 201..214 {
        let f = detect(&s, as_of);
        assert_eq!(f.len(), 1, "as_of {as_of}: {f:?}");
        assert_eq!(f[0].start, day(200), "as_of {as_of}");
    }
    assert!(detect(&s, 220).is_empty());
}

#[test]
fn eval_series_replays_the_job_pass_over_written_scenarios() {
    use costbot::eval::scenarios::{generate, write_layout};
    use costbot::eval::series::{evaluate, Gates};
    let dir = std::env::temp_dir().join(format!("costbot-it-series-{}", std::process::id()));
    write_layout(&dir, &generate(5, 3)).expect("write scenarios");
    // As `eval scenarios` does: the generated labels count drops, so drops are announced.
    let thresholds = ThresholdSet { alert_drops: true, ..ThresholdSet::default() };
    let gates = Gates { thresholds, lookback_days: 100 };
    let report = evaluate(&dir, &gates).expect("evaluate");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    // Eight families of three series each, then the total.
    assert_eq!(report.families.len(), 9, "{:?}", report.families.iter().map(|f| &f.0).collect::<Vec<_>>());
    let (name, ours, seed) = report.families.last().expect("total row");
    assert_eq!((name.as_str(), ours.series, seed.series), ("all", 24, 24));
    assert!(ours.windows > 0 && ours.windows == seed.windows, "{ours:?} {seed:?}");
    assert!(ours.f1() > seed.f1(), "costbot {:.3} vs seed {:.3}", ours.f1(), seed.f1());
    // Three series per family is a small sample, so the claims are relative to the seed.
    assert!(ours.precision() > 2.0 * seed.precision(), "{ours:?} {seed:?}");
    assert!(ours.false_per_series_month() < seed.false_per_series_month(), "{ours:?} {seed:?}");
    let clean = report.families.iter().find(|f| f.0 == "scenarios/clean").expect("clean family");
    assert_eq!(clean.1.alerts, 0, "false alerts on anomaly-free series: {:?}", clean.1);
    assert!(ours.nab() > seed.nab(), "NAB {:.1} vs {:.1}", ours.nab(), seed.nab());
}
