//! Detection after collection, end to end: history and a spike from moto's Cost Explorer,
//! the anomaly stored once with a root cause from one extra (filtered) Cost Explorer query.

use std::sync::Arc;

use chrono::{Days, NaiveDate};
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::incident::{EventKind, Scope};
use costbot::domain::root_cause::Dimension;
use costbot::domain::Granularity;
use costbot::store::PgStore;
use serde_json::{json, Value};

use crate::support::Moto;

const PAYER: &str = "123456789012";
const SERVICE: &str = "Amazon Elastic Compute Cloud - Compute";

/// A day's amount with a weekly rhythm (weekends lower) and a little deterministic noise.
fn normal(day: NaiveDate) -> f64 {
    use chrono::Datelike;
    let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
    (if weekend { 70.0 } else { 100.0 }) + f64::from(day.ordinal() % 5)
}

fn result(day: NaiveDate, groups: Vec<Value>) -> Value {
    json!({
        "TimePeriod": { "Start": day.to_string(), "End": (day + Days::new(1)).to_string() },
        "Total": {}, "Groups": groups, "Estimated": false
    })
}

fn group(keys: [&str; 2], amount: f64) -> Value {
    json!({ "Keys": keys, "Metrics": { "UnblendedCost": { "Amount": format!("{amount:.4}"), "Unit": "USD" } } })
}

fn response(results: Vec<Value>, group_by: [&str; 2]) -> Value {
    json!({
        "GroupDefinitions": [{ "Type": "DIMENSION", "Key": group_by[0] }, { "Type": "DIMENSION", "Key": group_by[1] }],
        "ResultsByTime": results, "DimensionValueAttributes": []
    })
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_spike_in_cost_explorer_data_becomes_one_anomaly_with_a_root_cause(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let today: NaiveDate = "2026-11-25".parse().unwrap();
    let spike_day = today - Days::new(1);
    let first = today - Days::new(100);
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= today).collect();
    let history: Vec<Value> = days
        .iter()
        .map(|d| {
            let amount = if *d == spike_day { normal(*d) + 400.0 } else { normal(*d) };
            result(*d, vec![group([PAYER, SERVICE], amount)])
        })
        .collect();
    let breakdown: Vec<Value> = days
        .iter()
        .filter(|d| **d >= spike_day - Days::new(14) && **d <= spike_day)
        .map(|d| {
            let mut groups = vec![group(["USE1-BoxUsage:m5.xlarge", "us-east-1"], normal(*d))];
            if *d == spike_day {
                groups.push(group(["USE1-BoxUsage:p4d.24xlarge", "us-east-1"], 400.0));
            }
            result(*d, groups)
        })
        .collect();
    moto.seed_cost_and_usage(
        PAYER,
        vec![response(history, ["LINKED_ACCOUNT", "SERVICE"]), response(breakdown, ["USAGE_TYPE", "REGION"])],
    )
    .await;
    let toml = format!(
        "[aws]\nendpoint_url = \"{}\"\nretry_mode = \"standard\"\n[costs]\nbackfill_days = 100\nbreakdown_every_hours = 0\n\
         [anomaly]\nusage_only = false\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n",
        moto.url
    );
    let now = today.and_hms_opt(12, 0, 0).unwrap();
    let store = Arc::new(PgStore::from_pool(pool));
    let app = App::with_store(Config::from_toml(&toml).unwrap(), store.clone(), now).await.unwrap();

    let (run, report) = app.collect_and_detect(now, None, None).await.unwrap();
    assert_eq!(run.api_calls, 1);
    let report = report.unwrap();
    assert_eq!((report.opened, report.root_cause_calls), (1, 1), "{report:?}");

    let open = app.store.open_anomalies(Granularity::Daily).await.unwrap();
    assert_eq!(open.len(), 1, "the service anomaly explains the account and organisation totals: {open:?}");
    let anomaly = &open[0];
    assert!(matches!(&anomaly.key.scope, Scope::Service { service, .. } if service.as_str() == SERVICE));
    assert_eq!(anomaly.start.date(), spike_day);
    assert!(anomaly.impact.as_decimal() > 350.into() && anomaly.impact.as_decimal() < 450.into(), "{anomaly:?}");
    let top = &anomaly.root_cause[0];
    assert_eq!((top.dimension, top.name.as_str()), (Dimension::UsageType, "USE1-BoxUsage:p4d.24xlarge"));

    // The next hourly run finds the same anomaly: no new alert, no new Cost Explorer query
    // for the root cause.
    let (_, again) = app.collect_and_detect(now, None, None).await.unwrap();
    let again = again.unwrap();
    assert_eq!((again.opened, again.root_cause_calls), (0, 0), "{again:?}");
    let events = app.store.alert_events(0, 10).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == EventKind::Opened).count(), 1);
}
