//! A spend summary (the daily trend and the groups of a breakdown, each from its smallest
//! table, the groups of unscoped and account breakdowns from the monthly running sums of
//! migration 0160) gives what summing the facts gives, on both stores: for every range of
//! whole days across two months and a gap, every scope, service filter and grouping, after
//! restated days, credits, a key that starts mid-month and one whose spend stops.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, SpendGroup, SpendQuery};

crate::store_contract::contract!(a_summary_sums_what_the_facts_sum_over_every_range);

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const SERVICES: [&str; 3] = ["Amazon Elastic Compute Cloud - Compute", "AWS Lambda", "Amazon Simple Storage Service"];

/// The first day of the facts: late October, so ranges cross into November.
fn first() -> NaiveDate {
    "2026-10-20".parse().unwrap()
}

/// 30 days of facts with a gap (days 14–16 have none), account 3 starting on day 15 (a new
/// key mid-month), Lambda stopping after day 20 (a key whose spend ends), and a credit day.
/// `version` changes some amounts, as a restatement would.
fn facts(version: i128) -> Vec<CostFact> {
    let mut out = Vec::new();
    for d in 0..30u64 {
        if (14..=16).contains(&d) {
            continue;
        }
        for (a, account) in ACCOUNTS.iter().enumerate() {
            for (s, service) in SERVICES.iter().enumerate() {
                if (a == 2 && d < 15) || (s == 1 && d > 20) {
                    continue;
                }
                let mut units = ((d as i128 + 1) * 1_000_003 + a as i128 * 77 + s as i128 * 13 + version * 5) * 1_000;
                // A credit larger than the day's spend, so some sums go negative.
                if d == 22 && a == 1 && s == 0 {
                    units = -units * 3;
                }
                out.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: (first() + Days::new(d)).and_hms_opt(0, 0, 0).unwrap(),
                    account: AccountId::parse(account).unwrap(),
                    service: ServiceName::parse(service).unwrap(),
                    amount: Money::from_units(units),
                    unit: "USD".into(),
                    estimated: d == 29 && a == 0,
                });
            }
        }
    }
    out
}

/// What the facts say: per-day totals (with the estimated flag) and per-group sums.
type Sums = (BTreeMap<NaiveDateTime, (Money, bool)>, BTreeMap<String, Money>);

fn expected(facts: &[CostFact], query: &SpendQuery, group: SpendGroup) -> Sums {
    let (mut days, mut groups) = (BTreeMap::new(), BTreeMap::new());
    for f in facts {
        let day = f.period_start.date();
        let in_scope = query.accounts.as_ref().is_none_or(|a| a.contains(&f.account));
        let in_services = query.services.as_ref().is_none_or(|s| s.contains(&f.service));
        if day < query.range.start() || day >= query.range.end() || !in_scope || !in_services {
            continue;
        }
        let entry = days.entry(f.period_start).or_insert((Money::ZERO, false));
        entry.0 += f.amount;
        entry.1 |= f.estimated;
        let key = match group {
            SpendGroup::Total => continue,
            SpendGroup::Service => f.service.as_str().to_string(),
            SpendGroup::Account => f.account.as_str().to_string(),
        };
        *groups.entry(key).or_insert(Money::ZERO) += f.amount;
    }
    (days, groups)
}

async fn a_summary_sums_what_the_facts_sum_over_every_range(store: DynStore) {
    let payer = AccountId::parse(ACCOUNTS[0]).unwrap();
    let all = DateRange::new(first(), first() + Days::new(30)).unwrap();
    let at = first().and_hms_opt(12, 0, 0).unwrap();
    store.replace_cost_facts(&payer, Granularity::Daily, &all, &facts(0), at).await.unwrap();
    check_every_range(&store, &facts(0)).await;
    // Restate days 10–24 (across the month boundary, as a collection's look-back does) with
    // other amounts: the running sums of the rest of both months must follow.
    let restated = DateRange::new(first() + Days::new(10), first() + Days::new(25)).unwrap();
    let mut now = facts(1);
    now.retain(|f| restated.contains(f.period_start));
    store.replace_cost_facts(&payer, Granularity::Daily, &restated, &now, at).await.unwrap();
    let mut after: Vec<CostFact> = facts(0).into_iter().filter(|f| !restated.contains(f.period_start)).collect();
    after.extend(now);
    check_every_range(&store, &after).await;
}

/// Every range of whole days from two days before the facts to two after, in every shape.
async fn check_every_range(store: &DynStore, facts: &[CostFact]) {
    let account = |i: usize| AccountId::parse(ACCOUNTS[i]).unwrap();
    let service = |i: usize| ServiceName::parse(SERVICES[i]).unwrap();
    let scopes = [None, Some(vec![account(0), account(2)]), Some(vec![account(1)]), Some(vec![])];
    let filters = [None, Some(vec![service(1)])];
    let start = first() - Days::new(2);
    let mut shapes = 0;
    for from in 0..34u64 {
        for to in (from + 1)..=34 {
            let range = DateRange::new(start + Days::new(from), start + Days::new(to)).unwrap();
            for accounts in &scopes {
                for services in &filters {
                    for group in [SpendGroup::Total, SpendGroup::Service, SpendGroup::Account] {
                        let query = SpendQuery {
                            granularity: Granularity::Daily,
                            range,
                            accounts: accounts.clone(),
                            services: services.clone(),
                        };
                        let summary = store.spend_summary(&query, group).await.unwrap();
                        let days = summary.periods.iter().map(|(at, amount, est)| (*at, (*amount, *est))).collect();
                        let groups = summary.groups.iter().map(|r| (r.key.clone(), r.amount)).collect();
                        let context = format!("{group:?} {accounts:?} {services:?} {range}");
                        assert_eq!((days, groups), expected(facts, &query, group), "{context}");
                        shapes += 1;
                    }
                }
            }
        }
    }
    assert_eq!(shapes, 595 * 4 * 2 * 3);
}

/// The statements of migration 0160 from its fill on: what an upgraded store runs once over
/// the rollups it already holds.
fn fill_of(migration: &str) -> &str {
    let at = migration.find("-- Filled from").expect("migration 0160 fills the running sums");
    &migration[at..]
}

/// Facts written, then the running sums emptied and refilled by the migration's own SQL.
async fn filled_by_the_migration(store: DynStore, run_fill: impl std::future::Future<Output = ()>) {
    let payer = AccountId::parse(ACCOUNTS[0]).unwrap();
    let all = DateRange::new(first(), first() + Days::new(30)).unwrap();
    store
        .replace_cost_facts(&payer, Granularity::Daily, &all, &facts(0), first().and_hms_opt(12, 0, 0).unwrap())
        .await
        .unwrap();
    run_fill.await;
    check_every_range(&store, &facts(0)).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_running_sums_migration_fills_them_on_postgres(pool: sqlx::PgPool) {
    let store: DynStore = std::sync::Arc::new(costbot::store::PgStore::from_pool(pool.clone()));
    filled_by_the_migration(store, async {
        sqlx::query("DELETE FROM cost_running_sums").execute(&pool).await.unwrap();
        let sql = fill_of(include_str!("../../migrations/postgres/0160_running_sums.sql"));
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_running_sums_migration_fills_them_on_sqlite() {
    let sqlite = costbot::store::SqliteStore::in_memory().await.unwrap();
    let pool = sqlite.pool().clone();
    let store: DynStore = std::sync::Arc::new(sqlite);
    filled_by_the_migration(store, async {
        sqlx::query("DELETE FROM cost_running_sums").execute(&pool).await.unwrap();
        let sql = fill_of(include_str!("../../migrations/sqlite/0160_running_sums.sql"));
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    })
    .await;
}
