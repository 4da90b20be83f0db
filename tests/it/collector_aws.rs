//! The collector end to end: the real AWS SDK against moto (Cost Explorer seeded through
//! moto's API, roles assumed through moto's STS), storing into a real Postgres database.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::NaiveDate;
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::run::RunStatus;
use costbot::domain::{AccountId, DateRange, Granularity, Money};
use costbot::store::{FactFilter, PgStore};
use rust_decimal::Decimal;

use crate::support::{ce_response, sum_rows, FakeAws, FakeBehaviour, Moto, Row, EXTERNAL_ID_ENV};

/// moto's default account: what the ambient test credentials map to.
const PAYER: &str = "123456789012";
/// A second organisation reached by assuming a role.
const OTHER: &str = "210987654321";

fn day(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

/// These tests count the facts' own requests and seeded pages, so usage-only collection (one
/// more request per payer, which takes the next seeded answer) is off here and tested on its
/// own in `usage_facts_are_collected_beside_the_facts_with_one_more_request`.
fn config(endpoint: &str, backfill_days: u64, with_role_account: bool) -> Config {
    let mut toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 3\n\
         [costs]\nbackfill_days = {backfill_days}\nbreakdown_every_hours = 0\n\
         [anomaly]\nusage_only = false\n\
         [[accounts]]\nid = \"{PAYER}\"\nname = \"payer\"\ncost_explorer = true\n"
    );
    if with_role_account {
        toml.push_str(&format!(
            "[[accounts]]\nid = \"{OTHER}\"\nname = \"other-org\"\ncost_explorer = true\n\
             role_arn = \"arn:aws:iam::{OTHER}:role/costbot-read\"\nexternal_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n"
        ));
    }
    Config::from_toml(&toml).unwrap()
}

async fn app(config: Config, pool: sqlx::PgPool) -> App {
    let store = Arc::new(PgStore::from_pool(pool));
    App::with_store(config, store, "2026-11-25T12:00:00".parse().unwrap()).await.unwrap()
}

fn whole_range() -> FactFilter {
    FactFilter {
        granularity: Granularity::Daily,
        range: DateRange::new(day("2026-01-01"), day("2027-01-01")).unwrap(),
        accounts: None,
    }
}

fn money(d: Decimal) -> Money {
    Money::from_decimal(d)
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn pages_land_complete_reruns_are_idempotent_and_restated_days_are_corrected(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    // Run 1 (today 25 Nov, backfill 8 days: 17..25) comes back in three pages; one day's
    // groups are split across pages, as Cost Explorer does with many groups.
    let p1: Vec<(&str, Vec<Row>)> = vec![
        (
            "2026-11-17",
            vec![
                (PAYER, "AWS Lambda", "1.0000000001"),
                ("111122223333", "Amazon Simple Storage Service", "40.3543773134"),
            ],
        ),
        ("2026-11-18", vec![(PAYER, "AWS Lambda", "1.5")]),
    ];
    let p2: Vec<(&str, Vec<Row>)> = vec![
        ("2026-11-18", vec![("111122223333", "Amazon Simple Storage Service", "39.99")]),
        ("2026-11-19", vec![(PAYER, "AWS Lambda", "2"), ("111122223333", "AWS Glue", "7.25")]),
        ("2026-11-20", vec![(PAYER, "AWS Lambda", "2.5")]),
        ("2026-11-21", vec![(PAYER, "AWS Lambda", "3")]),
    ];
    let p3: Vec<(&str, Vec<Row>)> = vec![
        ("2026-11-22", vec![(PAYER, "AWS Lambda", "3.5"), ("111122223333", "AWS Glue", "8")]),
        ("2026-11-23", vec![(PAYER, "AWS Lambda", "4")]),
        ("2026-11-24", vec![(PAYER, "AWS Lambda", "4.5")]),
        ("2026-11-25", vec![(PAYER, "AWS Lambda", "0.75")]),
    ];
    // Run 2 (the next day, 20..26): 22 Nov is restated, Glue on 22 Nov vanished, 24 Nov is final.
    let restated: Vec<(&str, Vec<Row>)> = vec![
        ("2026-11-20", vec![(PAYER, "AWS Lambda", "2.5")]),
        ("2026-11-21", vec![(PAYER, "AWS Lambda", "3")]),
        ("2026-11-22", vec![(PAYER, "AWS Lambda", "3.9876543210")]),
        ("2026-11-23", vec![(PAYER, "AWS Lambda", "4")]),
        ("2026-11-24", vec![(PAYER, "AWS Lambda", "4.6")]),
        ("2026-11-25", vec![(PAYER, "AWS Lambda", "5.1")]),
        ("2026-11-26", vec![(PAYER, "AWS Lambda", "0.2")]),
    ];
    moto.seed_cost_and_usage(
        PAYER,
        vec![
            ce_response(&p1, Some("2026-11-24"), Some("page-2")),
            ce_response(&p2, Some("2026-11-24"), Some("page-3")),
            ce_response(&p3, Some("2026-11-24"), None),
            ce_response(&restated, Some("2026-11-25"), None),
        ],
    )
    .await;
    let app = app(config(&moto.url, 8, false), pool).await;

    let run1 = app.collector.run(day("2026-11-25"), None, None).await.unwrap();
    assert_eq!(run1.status, RunStatus::Succeeded, "{run1:?}");
    assert_eq!(run1.api_calls, 3, "one request per page");
    assert_eq!(run1.sources[0].range.to_string(), "2026-11-17..2026-11-26");
    let first_rows: Vec<&Row> = p1.iter().chain(&p2).chain(&p3).flat_map(|(_, r)| r).collect();
    assert_eq!(run1.rows_written, first_rows.len() as u64);
    assert_eq!(app.store.total(&whole_range()).await.unwrap(), money(sum_rows(first_rows.iter().copied())));
    let linked = AccountId::parse("111122223333").unwrap();
    assert!(app.store.accounts().await.unwrap().iter().any(|a| a.id == linked && !a.configured));

    let run2 = app.collector.run(day("2026-11-26"), None, None).await.unwrap();
    assert_eq!(run2.sources[0].range.to_string(), "2026-11-20..2026-11-27", "last complete day 23 Nov minus 3 days");
    assert_eq!(run2.api_calls, 1);
    let kept: Vec<&Row> = p1.iter().chain(&p2).filter(|(d, _)| *d < "2026-11-20").flat_map(|(_, r)| r).collect();
    let expected = sum_rows(kept.iter().copied()) + sum_rows(restated.iter().flat_map(|(_, r)| r));
    assert_eq!(app.store.total(&whole_range()).await.unwrap(), money(expected));
    let glue_22 = app
        .store
        .cost_facts(&whole_range())
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.period_start.date() == day("2026-11-22") && f.service.as_str() == "AWS Glue");
    assert_eq!(glue_22, None, "a row Cost Explorer no longer reports is removed");

    // The same run again: moto answers the same body with the same result.
    let facts_before = app.store.cost_facts(&whole_range()).await.unwrap();
    let run3 = app.collector.run(day("2026-11-26"), None, None).await.unwrap();
    assert_eq!(run3.status, RunStatus::Succeeded);
    assert_eq!(app.store.cost_facts(&whole_range()).await.unwrap(), facts_before);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_role_account_is_collected_and_a_failing_account_is_isolated(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let payer_day1: Vec<(&str, Vec<Row>)> = vec![("2026-11-24", vec![(PAYER, "AWS Lambda", "10")])];
    // The second run re-fetches the restatement window, so 24 Nov comes back as well.
    let payer_day2: Vec<(&str, Vec<Row>)> =
        vec![("2026-11-24", vec![(PAYER, "AWS Lambda", "10")]), ("2026-11-25", vec![(PAYER, "AWS Lambda", "11")])];
    let other_day1: Vec<(&str, Vec<Row>)> = vec![("2026-11-24", vec![(OTHER, "Amazon Redshift", "99.5")])];
    // The second answer for the role account is malformed: an amount Cost Explorer never sends.
    let other_bad: Vec<(&str, Vec<Row>)> = vec![("2026-11-25", vec![(OTHER, "Amazon Redshift", "n/a")])];
    moto.seed_cost_and_usage(PAYER, vec![ce_response(&payer_day1, None, None), ce_response(&payer_day2, None, None)])
        .await;
    moto.seed_cost_and_usage(OTHER, vec![ce_response(&other_day1, None, None), ce_response(&other_bad, None, None)])
        .await;
    let app = app(config(&moto.url, 1, true), pool).await;

    let run1 = app.collector.run(day("2026-11-25"), None, None).await.unwrap();
    assert_eq!(run1.status, RunStatus::Succeeded, "{run1:?}");
    assert_eq!(run1.sources.len(), 2, "one query per source account");
    let other = AccountId::parse(OTHER).unwrap();
    let only_other = FactFilter { accounts: Some(vec![other.clone()]), ..whole_range() };
    assert_eq!(
        app.store.total(&only_other).await.unwrap(),
        Money::parse("99.5").unwrap(),
        "data from the assumed role's account"
    );

    let run2 = app.collector.run(day("2026-11-26"), None, None).await.unwrap();
    assert_eq!(run2.status, RunStatus::Partial, "{run2:?}");
    let failed = run2.sources.iter().find(|s| s.source == other).unwrap();
    assert!(failed.error.as_deref().unwrap().contains("n/a"), "{failed:?}");
    assert!(run2.error.as_deref().unwrap().contains(OTHER));
    assert_eq!(app.store.total(&only_other).await.unwrap(), Money::parse("99.5").unwrap(), "earlier data is kept");
    let payer = FactFilter { accounts: Some(vec![AccountId::parse(PAYER).unwrap()]), ..whole_range() };
    assert_eq!(
        app.store.total(&payer).await.unwrap(),
        Money::parse("21").unwrap(),
        "the other account still collected"
    );
    let stored = app.store.recent_runs(1).await.unwrap();
    assert_eq!(stored[0].status, RunStatus::Partial, "the failure is in the run record");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn throttling_is_retried_by_the_sdk_recorded_and_the_next_run_recovers(pool: sqlx::PgPool) {
    let fake = FakeAws::start(FakeBehaviour::Throttle).await;
    let app = app(config(&fake.url, 1, false), pool).await;
    let today = chrono::Utc::now().date_naive();

    let run = app.collector.run(today, None, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(fake.ce_requests.load(Ordering::SeqCst), 3, "max_attempts = 3, retried by the SDK");
    let error = run.error.unwrap();
    assert!(error.contains("LimitExceededException") || error.contains("rate limit"), "{error}");

    fake.set(FakeBehaviour::Succeed);
    let retry = app.collector.run(today, None, None).await.unwrap();
    assert_eq!(retry.status, RunStatus::Succeeded, "{retry:?}");
    assert_eq!(app.store.total(&whole_range()).await.unwrap(), Money::parse("1.25").unwrap());
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_expired_role_is_reported_with_the_reason(pool: sqlx::PgPool) {
    let fake = FakeAws::start(FakeBehaviour::ExpiredRole).await;
    let mut config = config(&fake.url, 1, true);
    config.accounts.retain(|a| a.id.as_str() == OTHER);
    let app = app(config, pool).await;
    let run = app.collector.run(chrono::Utc::now().date_naive(), None, None).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(error.contains(OTHER) && error.contains("expired"), "{error}");
    assert_eq!(fake.ce_requests.load(Ordering::SeqCst), 0, "no Cost Explorer call without credentials");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_unknown_source_account_is_refused_by_name(pool: sqlx::PgPool) {
    let app = app(config("http://127.0.0.1:9", 1, false), pool).await;
    let stranger = AccountId::parse("999999999999").unwrap();
    let error = app.collector.run(day("2026-11-25"), None, Some(&stranger)).await.unwrap_err();
    assert!(error.to_string().contains("999999999999"), "{error}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn region_usage_type_and_record_type_breakdowns_are_refreshed_daily_not_every_run(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let facts: Vec<(&str, Vec<Row>)> = vec![("2026-11-24", vec![(PAYER, "Amazon Simple Storage Service", "12.5")])];
    let regions: Vec<(&str, Vec<Row>)> =
        vec![("2026-11-24", vec![(PAYER, "us-east-1", "10"), (PAYER, "eu-west-1", "2.5")])];
    let usage: Vec<(&str, Vec<Row>)> = vec![("2026-11-24", vec![(PAYER, "USE1-TimedStorage-ByteHrs", "12.5")])];
    let records: Vec<(&str, Vec<Row>)> =
        vec![("2026-11-24", vec![(PAYER, "Usage", "13"), (PAYER, "Tax", "1.5"), (PAYER, "Credit", "-2")])];
    moto.seed_cost_and_usage(
        PAYER,
        vec![
            ce_response(&facts, None, None),
            ce_response(&regions, None, None),
            ce_response(&usage, None, None),
            ce_response(&records, None, None),
        ],
    )
    .await;
    let mut config = config(&moto.url, 1, false);
    config.costs.breakdown_every_hours = 24;
    let app = app(config, pool).await;
    let run = app.collector.run(day("2026-11-25"), None, None).await.unwrap();
    assert_eq!((run.status, run.api_calls), (RunStatus::Succeeded, 4), "{run:?}");
    let query = costbot::store::SpendQuery {
        granularity: Granularity::Daily,
        range: DateRange::new(day("2026-11-01"), day("2026-12-01")).unwrap(),
        accounts: None,
        services: None,
    };
    let by_region = app.store.spend_by_dimension(&query, costbot::domain::BreakdownDimension::Region).await.unwrap();
    let got: Vec<_> = by_region.iter().map(|r| (r.key.as_str(), r.amount.to_string())).collect();
    assert_eq!(got, vec![("us-east-1", "$10.00".to_string()), ("eu-west-1", "$2.50".to_string())]);
    // Record types are kept apart: usage, tax and the credit, each as Cost Explorer said.
    let records = app.store.spend_by_dimension(&query, costbot::domain::BreakdownDimension::RecordType).await.unwrap();
    let got: Vec<_> = records.iter().map(|r| (r.key.as_str(), r.amount.to_string())).collect();
    assert_eq!(
        got,
        vec![("Usage", "$13.00".to_string()), ("Tax", "$1.50".to_string()), ("Credit", "-$2.00".to_string())]
    );
    // The next hourly run the same day: the breakdowns are fresh, so only the main query runs.
    let again = app.collector.run(day("2026-11-25"), None, None).await.unwrap();
    assert_eq!(again.api_calls, 1, "{again:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn usage_facts_are_collected_beside_the_facts_with_one_more_request(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    // Net spend carries a $2 credit on S3; usage (RECORD_TYPE Usage and covered usage) does not.
    let net: Vec<(&str, Vec<Row>)> = vec![("2026-11-24", vec![(PAYER, "Amazon Simple Storage Service", "10.5")])];
    let usage: Vec<(&str, Vec<Row>)> = vec![("2026-11-24", vec![(PAYER, "Amazon Simple Storage Service", "12.5")])];
    moto.seed_cost_and_usage(PAYER, vec![ce_response(&net, None, None), ce_response(&usage, None, None)]).await;
    let mut config = config(&moto.url, 1, false);
    config.anomaly.usage_only = true;
    let app = app(config, pool).await;

    let run = app.collector.run(day("2026-11-25"), None, None).await.unwrap();
    assert_eq!((run.status, run.api_calls), (RunStatus::Succeeded, 2), "the facts and the usage query: {run:?}");
    assert_eq!(app.store.total(&whole_range()).await.unwrap(), money(Decimal::new(105, 1)), "answers stay net");
    let stored = app.store.usage_facts(&whole_range()).await.unwrap();
    let got: Vec<_> =
        stored.iter().map(|f| (f.period_start.date(), f.service.as_str(), f.amount.to_string())).collect();
    assert_eq!(got, vec![(day("2026-11-24"), "Amazon Simple Storage Service", "$12.50".to_string())]);
}
