//! Detection keeps its series between runs and re-reads only what changed (issue 21, item 3),
//! on both stores. The fact change log names every range a cost or usage write replaced, in
//! order, and says when it no longer reaches back; a detection job that kept its series
//! through a sequence of writes (restated days, vanished services and accounts, new days, an
//! account gaining and losing usage-only facts, another granularity, the clock going back)
//! scores exactly the series a fresh job reads from the store, while reading fewer facts.

use std::sync::Arc;

use chrono::{Days, NaiveDate, NaiveDateTime};
use costbot::detection::{Detection, DetectionSettings};
use costbot::domain::anomaly::ThresholdSet;
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, FactChanges, Store};

use crate::store_contract::contract;

contract!(
    the_change_log_names_each_replaced_range,
    kept_series_match_a_fresh_read,
    a_write_outside_its_range_is_refused
);

fn day(i: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + Days::new(i)
}

fn days(from: u64, to: u64) -> DateRange {
    DateRange::new(day(from), day(to)).unwrap()
}

fn id(account: &str) -> AccountId {
    AccountId::parse(account).unwrap()
}

/// Daily facts for `accounts` × `services` over days `[from, to)`, scaled by `scale`, the
/// last day estimated.
fn facts(accounts: &[&str], services: &[&str], from: u64, to: u64, scale: i128) -> Vec<CostFact> {
    let mut out = Vec::new();
    for d in from..to {
        for (a, account) in accounts.iter().enumerate() {
            for (s, service) in services.iter().enumerate() {
                out.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: day(d).and_hms_opt(0, 0, 0).unwrap(),
                    account: id(account),
                    service: ServiceName::parse(service).unwrap(),
                    amount: Money::from_units(scale * (1_000_000_007 * (d as i128 % 7 + 1) + (a * 10 + s) as i128)),
                    unit: "USD".into(),
                    estimated: d + 1 == to,
                });
            }
        }
    }
    out
}

async fn the_change_log_names_each_replaced_range(store: Arc<impl Store>) {
    let at = day(50).and_hms_opt(0, 0, 0).unwrap();
    let payer = id("111111111111");
    assert_eq!(store.fact_change_head().await.unwrap(), 0);
    assert_eq!(store.fact_changes(Granularity::Daily, 0).await.unwrap(), FactChanges { head: 0, ranges: Some(vec![]) });
    let net = facts(&["111111111111"], &["AWS Lambda"], 0, 10, 1);
    store.replace_cost_facts(&payer, Granularity::Daily, &days(0, 10), &net, at).await.unwrap();
    store.replace_usage_facts(&payer, Granularity::Hourly, &days(8, 10), &[], at).await.unwrap();
    store.replace_usage_facts(&payer, Granularity::Daily, &days(5, 10), &net[5..], at).await.unwrap();
    assert_eq!(store.fact_change_head().await.unwrap(), 3);
    let daily = store.fact_changes(Granularity::Daily, 0).await.unwrap();
    assert_eq!(daily, FactChanges { head: 3, ranges: Some(vec![days(0, 10), days(5, 10)]) });
    let hourly = store.fact_changes(Granularity::Hourly, 1).await.unwrap();
    assert_eq!(hourly, FactChanges { head: 3, ranges: Some(vec![days(8, 10)]) });
    assert_eq!(store.fact_changes(Granularity::Daily, 2).await.unwrap().ranges, Some(vec![days(5, 10)]));
    assert_eq!(store.fact_changes(Granularity::Daily, 3).await.unwrap().ranges, Some(vec![]));
    // A watermark ahead of the head (a restored database, a failover that lost commits)
    // holds writes the store no longer has: read everything.
    assert_eq!(store.fact_changes(Granularity::Daily, 99).await.unwrap(), FactChanges { head: 3, ranges: None });
}

/// A pruned change log makes a reader behind it read everything: run on each engine with
/// the oldest change deleted as the writers' pruning would.
async fn a_pruned_log_asks_for_a_full_read(store: Arc<impl Store>, prune: impl std::future::Future<Output = ()>) {
    let at = day(50).and_hms_opt(0, 0, 0).unwrap();
    let payer = id("111111111111");
    for _ in 0..3 {
        store.replace_cost_facts(&payer, Granularity::Daily, &days(0, 2), &[], at).await.unwrap();
    }
    prune.await;
    assert_eq!(store.fact_changes(Granularity::Daily, 0).await.unwrap(), FactChanges { head: 3, ranges: None });
    assert_eq!(store.fact_changes(Granularity::Daily, 1).await.unwrap().ranges, Some(vec![days(0, 2), days(0, 2)]));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_pruned_log_asks_for_a_full_read_on_postgres(pool: sqlx::PgPool) {
    let store = Arc::new(costbot::store::PgStore::from_pool(pool.clone()));
    let prune = async move {
        sqlx::query("DELETE FROM fact_changes WHERE seq = 1").execute(&pool).await.unwrap();
    };
    a_pruned_log_asks_for_a_full_read(store, prune).await;
}

#[tokio::test]
async fn a_pruned_log_asks_for_a_full_read_on_sqlite() {
    let store = Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap());
    let pool = store.pool().clone();
    let prune = async move {
        sqlx::query("DELETE FROM fact_changes WHERE seq = 1").execute(&pool).await.unwrap();
    };
    a_pruned_log_asks_for_a_full_read(store, prune).await;
}

fn job(store: &DynStore) -> Detection {
    let settings = DetectionSettings {
        granularity: Granularity::Daily,
        lookback_days: 30,
        thresholds: ThresholdSet::default(),
        by_tags: Vec::new(),
        usage_only: true,
    };
    Detection::new(store.clone(), Arc::new(costbot::sim::SimulatedCloud::demo(7, at(60))), settings)
}

fn at(d: u64) -> NaiveDateTime {
    day(d).and_hms_opt(6, 0, 0).unwrap()
}

/// The kept job's series at `as_of` equal a fresh job's; returns the facts each read.
async fn same_as_fresh(kept: &Detection, store: &DynStore, as_of: NaiveDateTime, step: &str) -> (u64, u64) {
    let (series, read) = kept.series_at(as_of).await.unwrap();
    let (fresh, fresh_read) = job(store).series_at(as_of).await.unwrap();
    assert_eq!(series, fresh, "after {step}");
    assert!(!series.is_empty(), "after {step}: nothing scored");
    (read, fresh_read)
}

async fn kept_series_match_a_fresh_read(store: Arc<impl Store>) {
    let store: DynStore = store;
    let written = day(60).and_hms_opt(0, 0, 0).unwrap();
    let (payer, other) = (id("111111111111"), id("333333333333"));
    let services = ["AWS Lambda", "Amazon Simple Storage Service", "Tax"];
    let first = ["111111111111", "222222222222"];
    store
        .replace_cost_facts(&payer, Granularity::Daily, &days(0, 40), &facts(&first, &services, 0, 40, 1), written)
        .await
        .unwrap();
    store
        .replace_cost_facts(
            &other,
            Granularity::Daily,
            &days(0, 40),
            &facts(&["333333333333"], &services, 0, 40, 2),
            written,
        )
        .await
        .unwrap();
    // One account has usage-only facts, so its series come from them.
    let usage = facts(&["111111111111"], &services[..2], 0, 40, 1);
    store.replace_usage_facts(&payer, Granularity::Daily, &days(0, 40), &usage, written).await.unwrap();

    let kept = job(&store);
    let (read, fresh) = same_as_fresh(&kept, &store, at(40), "the first read").await;
    assert_eq!(read, fresh, "the first run reads everything");
    let (read, _) = same_as_fresh(&kept, &store, at(40), "no write").await;
    assert_eq!(read, 0, "nothing changed, nothing read");

    // The last three days restated: values change, Tax vanishes and a service appears.
    let restated = facts(&first, &["AWS Lambda", "Amazon Simple Storage Service", "AWS Glue"], 37, 40, 3);
    store.replace_cost_facts(&payer, Granularity::Daily, &days(37, 40), &restated, written).await.unwrap();
    let (read, fresh) = same_as_fresh(&kept, &store, at(40), "restated days").await;
    assert!(read < fresh / 5, "re-read {read} facts of {fresh}");

    // Two new days arrive and the clock moves on: the range drops two days and opens two.
    store
        .replace_cost_facts(&payer, Granularity::Daily, &days(40, 42), &facts(&first, &services, 40, 42, 1), written)
        .await
        .unwrap();
    store
        .replace_usage_facts(
            &payer,
            Granularity::Daily,
            &days(40, 42),
            &facts(&["111111111111"], &services[..2], 40, 42, 1),
            written,
        )
        .await
        .unwrap();
    same_as_fresh(&kept, &store, at(42), "new days").await;

    // An account gains usage-only facts for a few old days: all its series switch source.
    let gained = facts(&["222222222222"], &services[..1], 20, 23, 5);
    store.replace_usage_facts(&payer, Granularity::Daily, &days(20, 23), &gained, written).await.unwrap();
    same_as_fresh(&kept, &store, at(42), "an account gaining usage facts").await;

    // Usage-only facts vanish for the first account: it is scored on its net facts again.
    store.replace_usage_facts(&payer, Granularity::Daily, &days(0, 42), &gained, written).await.unwrap();
    same_as_fresh(&kept, &store, at(42), "usage facts removed").await;

    // Another payer's account vanishes from the whole range; hourly facts change nothing.
    store.replace_cost_facts(&other, Granularity::Daily, &days(0, 42), &[], written).await.unwrap();
    let mut hourly = facts(&["333333333333"], &services, 41, 42, 1);
    for fact in &mut hourly {
        fact.granularity = Granularity::Hourly;
    }
    store.replace_cost_facts(&other, Granularity::Hourly, &days(41, 42), &hourly, written).await.unwrap();
    let (series, _) = kept.series_at(at(42)).await.unwrap();
    assert!(!series.keys().any(|k| k.account() == Some(&other)), "a vanished account is not scored");
    same_as_fresh(&kept, &store, at(42), "a vanished account").await;

    // The clock goes back (a replay, an eval): the kept series are read again whole.
    let (read, fresh) = same_as_fresh(&kept, &store, at(39), "the clock going back").await;
    assert_eq!(read, fresh);
    // And forward past the whole range: read whole again.
    let (read, fresh) = same_as_fresh(&kept, &store, at(70), "a jump past the range").await;
    assert_eq!(read, fresh);
}

async fn a_write_outside_its_range_is_refused(store: Arc<impl Store>) {
    let at = day(50).and_hms_opt(0, 0, 0).unwrap();
    let payer = id("111111111111");
    let outside = facts(&["111111111111"], &["AWS Lambda"], 0, 10, 1);
    let err = store.replace_cost_facts(&payer, Granularity::Daily, &days(0, 9), &outside, at).await.unwrap_err();
    assert!(err.to_string().contains("outside"), "{err:#}");
    let err = store.replace_usage_facts(&payer, Granularity::Hourly, &days(0, 10), &outside, at).await.unwrap_err();
    assert!(err.to_string().contains("outside"), "{err:#}");
    // Nothing was written or logged.
    assert_eq!(store.fact_change_head().await.unwrap(), 0);
    let all = costbot::store::FactFilter { granularity: Granularity::Daily, range: days(0, 10), accounts: None };
    assert!(store.cost_facts(&all).await.unwrap().is_empty());
}

/// A run whose read fails part-way (here: a stored service name that does not parse, written behind
/// the store's back) leaves no half-moved series for the next run: the facts of the newly
/// opened day were never logged, so a kept cache that had already moved on would not read
/// them again. Run on each engine with raw SQL, the only way to store such a row.
async fn a_failed_read_keeps_no_half_moved_series(
    store: Arc<impl Store>,
    corrupt: impl std::future::Future<Output = ()>,
    mend: impl std::future::Future<Output = ()>,
) {
    let store: DynStore = store;
    let written = day(60).and_hms_opt(0, 0, 0).unwrap();
    let payer = id("111111111111");
    let services = ["AWS Lambda", "Tax"];
    let all = facts(&["111111111111"], &services, 0, 42, 1);
    store.replace_cost_facts(&payer, Granularity::Daily, &days(0, 42), &all, written).await.unwrap();
    let kept = job(&store);
    // At day 40 the range ends with day 40; day 41 is stored but not yet in it.
    same_as_fresh(&kept, &store, at(40), "the first read").await;
    corrupt.await;
    assert!(kept.series_at(at(41)).await.is_err(), "a row that does not parse fails the run");
    mend.await;
    same_as_fresh(&kept, &store, at(41), "a failed read").await;
}

/// Renames day 41's Tax facts from `from` to `to`, behind the store's back.
const RENAME: &str = "UPDATE cost_facts SET service = $1 WHERE service = $2 AND period_start = $3";

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_failed_read_keeps_no_half_moved_series_on_postgres(pool: sqlx::PgPool) {
    let store = Arc::new(costbot::store::PgStore::from_pool(pool.clone()));
    let rename = |pool: sqlx::PgPool, from: &'static str, to: &'static str| async move {
        let day41 = day(41).and_hms_opt(0, 0, 0).unwrap();
        sqlx::query(RENAME).bind(to).bind(from).bind(day41).execute(&pool).await.unwrap();
    };
    let (corrupt, mend) = (rename(pool.clone(), "Tax", "   "), rename(pool, "   ", "Tax"));
    a_failed_read_keeps_no_half_moved_series(store, corrupt, mend).await;
}

#[tokio::test]
async fn a_failed_read_keeps_no_half_moved_series_on_sqlite() {
    let store = Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap());
    let rename = |pool: sqlx::SqlitePool, from: &'static str, to: &'static str| async move {
        let day41 = day(41).and_hms_opt(0, 0, 0).unwrap();
        sqlx::query(RENAME).bind(to).bind(from).bind(day41).execute(&pool).await.unwrap();
    };
    let pool = store.pool().clone();
    let (corrupt, mend) = (rename(pool.clone(), "Tax", "   "), rename(pool, "   ", "Tax"));
    a_failed_read_keeps_no_half_moved_series(store, corrupt, mend).await;
}
