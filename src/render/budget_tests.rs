use super::*;
use crate::domain::budget::{status, DEFAULT_THRESHOLDS};

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

/// Dec 2026 with $400 a weekday and $150 a weekend day since Nov 1, asked on Dec 21.
pub(crate) fn sample_status(name: &str, amount: &str) -> BudgetStatus {
    let today: NaiveDate = "2026-12-21".parse().unwrap();
    let daily: Vec<(NaiveDate, Money)> = "2026-11-01"
        .parse::<NaiveDate>()
        .unwrap()
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            use chrono::Datelike;
            let weekend = matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
            (d, m(if weekend { "150" } else { "400" }))
        })
        .collect();
    status(BudgetName::parse(name).unwrap(), m(amount), &DEFAULT_THRESHOLDS, today, &daily)
}

pub(crate) fn sample_rows() -> Vec<BudgetRow> {
    vec![
        BudgetRow {
            name: BudgetName::parse("payments").unwrap(),
            scope: vec!["account = payments (111111111111)".into()],
            amount: m("8500"),
            amount_note: Some("set by person:ana on Dec 2; the configuration says $10,000.00".into()),
            status: Ok(sample_status("payments", "8500")),
            fired: vec!["50 % on Dec 12".into(), "80 % on Dec 18".into()],
        },
        BudgetRow {
            name: BudgetName::parse("platform").unwrap(),
            scope: Vec::new(),
            amount: m("20000"),
            amount_note: None,
            status: Ok(sample_status("platform", "20000")),
            fired: Vec::new(),
        },
        BudgetRow {
            name: BudgetName::parse("data").unwrap(),
            scope: vec!["account = data".into()],
            amount: m("1000"),
            amount_note: None,
            status: Err("no account `data` is known yet".into()),
            fired: Vec::new(),
        },
    ]
}

#[test]
fn the_sample_figures_are_what_the_snapshots_show() {
    let s = sample_status("payments", "8500");
    // Dec 1–21 2026: 15 weekdays and 6 weekend days.
    assert_eq!(s.actual, m("6900"));
    assert_eq!(s.crossed, vec![50, 80]);
    assert!(s.forecast_breach());
    assert_eq!(s.crossing, Some("2026-12-26".parse().unwrap()));
}

#[test]
fn every_budget_in_a_table() {
    insta::assert_json_snapshot!("budgets_table", budgets(&sample_rows(), None));
    insta::assert_json_snapshot!("budgets_none", budgets(&[], None));
}

#[test]
fn one_budget_in_detail() {
    let rows = sample_rows();
    let name = rows[0].name.clone();
    insta::assert_json_snapshot!("budget_one", budgets(&rows[..1], Some(&name)));
    insta::assert_json_snapshot!("budget_unknown", budgets(&[], Some(&name)));
}

#[test]
fn threshold_and_forecast_alerts() {
    let rows = sample_rows();
    let s = rows[0].status.clone().unwrap();
    insta::assert_json_snapshot!("budget_alert_80", alert(&rows[0], &s, &AlertKind::Threshold(80)));
    insta::assert_json_snapshot!("budget_alert_forecast", alert(&rows[0], &s, &AlertKind::Forecast));
}

#[test]
fn the_digest_line_names_each_budget() {
    let line = digest_line(&sample_rows()).unwrap();
    let text = crate::render::text::plain(&Message {
        fallback: String::new(),
        blocks: vec![line],
        tone: Tone::Neutral,
        attachments: Vec::new(),
    });
    insta::assert_snapshot!("budget_digest_line", text);
    assert_eq!(digest_line(&[]), None);
}
