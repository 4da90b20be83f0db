//! The rollups answer every spend question they can, and must give what summing the facts
//! gives: for each query shape (all accounts or a channel's scope, with and without a service
//! filter, each grouping) the store's per-period rows are compared with a sum computed here
//! from the facts that were written, on both stores. The total rollup's migration (0140)
//! fills it from facts written before it, on both engines.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, SpendGroup, SpendQuery};

crate::store_contract::contract!(every_spend_shape_sums_what_the_facts_sum);

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const SERVICES: [&str; 3] = ["Amazon Elastic Compute Cloud - Compute", "AWS Lambda", "Amazon Simple Storage Service"];

fn facts(first: NaiveDate) -> Vec<CostFact> {
    let mut out = Vec::new();
    for d in 0..10u64 {
        for (a, account) in ACCOUNTS.iter().enumerate() {
            for (s, service) in SERVICES.iter().enumerate() {
                // One account has no Lambda, so a scope can miss a service entirely.
                if a == 2 && s == 1 {
                    continue;
                }
                out.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: (first + Days::new(d)).and_hms_opt(0, 0, 0).unwrap(),
                    account: AccountId::parse(account).unwrap(),
                    service: ServiceName::parse(service).unwrap(),
                    amount: Money::from_units(((d as i128 + 1) * 1_000_003 + a as i128 * 77 + s as i128 * 13) * 1_000),
                    unit: "USD".into(),
                    // The last day is still estimated for one account only.
                    estimated: d == 9 && a == 0,
                });
            }
        }
    }
    out
}

/// What the facts say for one query: per period and key, the sum and whether any is estimated.
fn expected(
    facts: &[CostFact],
    query: &SpendQuery,
    group: SpendGroup,
) -> BTreeMap<(NaiveDateTime, String), (Money, bool)> {
    let mut out: BTreeMap<(NaiveDateTime, String), (Money, bool)> = BTreeMap::new();
    for f in facts {
        let day = f.period_start.date();
        let in_scope = query.accounts.as_ref().is_none_or(|a| a.contains(&f.account));
        let in_services = query.services.as_ref().is_none_or(|s| s.contains(&f.service));
        if day < query.range.start() || day >= query.range.end() || !in_scope || !in_services {
            continue;
        }
        let key = match group {
            SpendGroup::Total => String::new(),
            SpendGroup::Service => f.service.as_str().to_string(),
            SpendGroup::Account => f.account.as_str().to_string(),
        };
        let entry = out.entry((f.period_start, key)).or_insert((Money::ZERO, false));
        entry.0 += f.amount;
        entry.1 |= f.estimated;
    }
    out
}

async fn every_spend_shape_sums_what_the_facts_sum(store: DynStore) {
    let first: NaiveDate = "2026-11-01".parse().unwrap();
    let facts = facts(first);
    let payer = AccountId::parse(ACCOUNTS[0]).unwrap();
    let range = DateRange::new(first, first + Days::new(10)).unwrap();
    let at = first.and_hms_opt(12, 0, 0).unwrap();
    store.replace_cost_facts(&payer, Granularity::Daily, &range, &facts, at).await.unwrap();
    check_every_shape(&store, &facts, range).await;
}

/// The 72 query shapes: four scopes × three service filters × two ranges × three groupings.
async fn check_every_shape(store: &DynStore, facts: &[CostFact], range: DateRange) {
    let first = range.start();
    let account = |i: usize| AccountId::parse(ACCOUNTS[i]).unwrap();
    let service = |i: usize| ServiceName::parse(SERVICES[i]).unwrap();
    let scopes = [None, Some(vec![account(0), account(2)]), Some(vec![account(1)]), Some(vec![])];
    let filters = [None, Some(vec![service(1)]), Some(vec![service(0), service(2)])];
    let ranges = [range, DateRange::new(first + Days::new(3), first + Days::new(8)).unwrap()];
    let mut shapes = 0;
    for accounts in &scopes {
        for services in &filters {
            for range in ranges {
                for group in [SpendGroup::Total, SpendGroup::Service, SpendGroup::Account] {
                    let query = SpendQuery {
                        granularity: Granularity::Daily,
                        range,
                        accounts: accounts.clone(),
                        services: services.clone(),
                    };
                    let got: BTreeMap<(NaiveDateTime, String), (Money, bool)> = store
                        .spend_matrix(&query, group)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|(period, row)| ((period, row.key), (row.amount, row.estimated)))
                        .collect();
                    assert_eq!(got, expected(facts, &query, group), "{group:?} {accounts:?} {services:?} {range:?}");
                    shapes += 1;
                }
            }
        }
    }
    assert_eq!(shapes, 72);
}

/// Facts written, then the total rollup emptied and refilled by migration 0140's own SQL, as
/// on a store upgraded with history in it.
async fn backfilled_by_the_migration(store: DynStore, run_migration: impl std::future::Future<Output = ()>) {
    let first: NaiveDate = "2026-11-01".parse().unwrap();
    let facts = facts(first);
    let range = DateRange::new(first, first + Days::new(10)).unwrap();
    let payer = AccountId::parse(ACCOUNTS[0]).unwrap();
    store
        .replace_cost_facts(&payer, Granularity::Daily, &range, &facts, first.and_hms_opt(12, 0, 0).unwrap())
        .await
        .unwrap();
    run_migration.await;
    check_every_shape(&store, &facts, range).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_total_rollup_migration_fills_it_on_postgres(pool: sqlx::PgPool) {
    let store: DynStore = std::sync::Arc::new(costbot::store::PgStore::from_pool(pool.clone()));
    backfilled_by_the_migration(store, async {
        sqlx::query("DELETE FROM cost_rollups WHERE dimension = 'total'").execute(&pool).await.unwrap();
        sqlx::raw_sql(include_str!("../../migrations/postgres/0140_total_rollup.sql")).execute(&pool).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_total_rollup_migration_fills_it_on_sqlite() {
    let sqlite = costbot::store::SqliteStore::in_memory().await.unwrap();
    let pool = sqlite.pool().clone();
    let store: DynStore = std::sync::Arc::new(sqlite);
    backfilled_by_the_migration(store, async {
        sqlx::query("DELETE FROM cost_rollups WHERE dimension = 'total'").execute(&pool).await.unwrap();
        sqlx::raw_sql(include_str!("../../migrations/sqlite/0140_total_rollup.sql")).execute(&pool).await.unwrap();
    })
    .await;
}
