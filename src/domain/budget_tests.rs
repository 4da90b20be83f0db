use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

fn name() -> BudgetName {
    BudgetName::parse("payments").unwrap()
}

/// `per_day` on every day from `from` to `to`, inclusive.
fn flat(from: &str, to: &str, per_day: &str) -> Vec<(NaiveDate, Money)> {
    d(from).iter_days().take_while(|x| *x <= d(to)).map(|x| (x, m(per_day))).collect()
}

#[test]
fn names_are_lowercase_words_and_anything_else_is_refused() {
    assert_eq!(BudgetName::parse(" Payments ").unwrap().as_str(), "payments");
    assert_eq!(BudgetName::parse("team-a_2").unwrap().as_str(), "team-a_2");
    for bad in ["", "-lead", "a b", "pay;drop", "x".repeat(41).as_str(), "zahlungen€"] {
        assert!(BudgetName::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn thresholds_default_sort_and_refuse_repeats_and_zero() {
    assert_eq!(check_thresholds(&[]).unwrap(), vec![50, 80, 100]);
    assert_eq!(check_thresholds(&[100, 25]).unwrap(), vec![25, 100]);
    assert!(check_thresholds(&[80, 80]).is_err());
    assert!(check_thresholds(&[0]).is_err());
    assert!(check_thresholds(&[1_001]).is_err());
    assert!(check_amount(Money::ZERO).is_err());
    assert_eq!(check_amount(m("0.01")).unwrap(), m("0.01"));
}

#[test]
fn a_steady_month_has_exact_actual_burn_rate_and_forecast() {
    // $100 a day through Nov 20 (today, partial), budget $3,500 for November.
    let daily = flat("2026-10-01", "2026-11-20", "100");
    let s = status(name(), m("3500"), &DEFAULT_THRESHOLDS, d("2026-11-20"), &daily);
    assert_eq!(s.month, d("2026-11-01"));
    assert_eq!(s.actual, m("2000"));
    assert_eq!(s.used_percent, Decimal::new(571, 1));
    assert_eq!(s.burn_rate, Some(m("100")));
    assert_eq!(s.crossed, vec![50]);
    let f = s.forecast.as_ref().unwrap();
    assert_eq!(f.projected, m("3000"));
    assert!(!s.forecast_breach());
    assert_eq!(s.crossing, None);
}

#[test]
fn a_forecast_above_the_budget_names_the_day_it_crosses() {
    // $100 a day; by the 20th $1,900 of complete days. Budget $2,450: the 24th's projection
    // makes $2,400, the 25th's $2,500, so the crossing day is the 25th.
    let daily = flat("2026-10-01", "2026-11-19", "100");
    let s = status(name(), m("2450"), &DEFAULT_THRESHOLDS, d("2026-11-20"), &daily);
    assert!(s.forecast_breach());
    assert_eq!(s.crossing, Some(d("2026-11-25")));
    assert_eq!(s.forecast_percent(), Some(Decimal::new(1224, 1)));
    let alerts = alerts(&s);
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].kind, AlertKind::Threshold(50));
    assert_eq!(alerts[0].key, "budget:payments:2026-11:50");
    assert_eq!(alerts[1].key, "budget:payments:2026-11:forecast");
}

#[test]
fn the_highest_threshold_alerts_and_lower_ones_are_passed_with_it() {
    let daily = flat("2026-11-01", "2026-11-17", "100");
    let s = status(name(), m("2000"), &DEFAULT_THRESHOLDS, d("2026-11-17"), &daily);
    assert_eq!(s.actual, m("1700"));
    assert_eq!(s.crossed, vec![50, 80]);
    let alerts = alerts(&s);
    assert_eq!(alerts[0].kind, AlertKind::Threshold(80));
    assert_eq!(alerts[0].passed, vec!["budget:payments:2026-11:50".to_string()]);
}

#[test]
fn a_threshold_is_reached_exactly_at_its_amount_and_spent_budgets_have_no_crossing_day() {
    let daily = flat("2026-11-01", "2026-11-10", "100");
    let s = status(name(), m("1250"), &DEFAULT_THRESHOLDS, d("2026-11-10"), &daily);
    // $1,000 of $1,250 is exactly 80 %.
    assert_eq!(s.crossed, vec![50, 80]);
    let over = status(name(), m("900"), &DEFAULT_THRESHOLDS, d("2026-11-10"), &daily);
    assert_eq!(over.crossed, vec![50, 80, 100]);
    assert_eq!(over.crossing, None);
    assert!(!over.forecast_breach(), "the 100 % alert says it; the forecast alert would repeat it");
}

#[test]
fn the_first_of_the_month_has_no_burn_rate_and_a_new_month_has_new_keys() {
    let daily = flat("2026-10-01", "2026-12-01", "10");
    let s = status(name(), m("1000"), &DEFAULT_THRESHOLDS, d("2026-12-01"), &daily);
    assert_eq!(s.burn_rate, None);
    assert_eq!(s.actual, m("10"));
    assert_eq!(alert_key(&s.name, s.month, &AlertKind::Threshold(80)), "budget:payments:2026-12:80");
}

#[test]
fn too_little_history_gives_no_forecast_but_still_thresholds() {
    let daily = flat("2026-11-01", "2026-11-04", "500");
    let s = status(name(), m("1000"), &DEFAULT_THRESHOLDS, d("2026-11-04"), &daily);
    assert_eq!(s.forecast, None);
    assert_eq!(s.crossing, None);
    assert_eq!(s.crossed, vec![50, 80, 100]);
}
