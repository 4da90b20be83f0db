//! Breakdowns by region, usage type and record type give what summing the stored breakdown
//! rows gives, whether the organisation-wide rollup of migration 0170 answers (no scope) or
//! the rows do (a channel's scope): with two payers writing the same days, and after one of
//! them restates a range and drops a key, on both stores.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use costbot::domain::{AccountId, BreakdownDimension, BreakdownFact, DateRange, Granularity, Money};
use costbot::store::{DynStore, SpendQuery};

crate::store_contract::contract!(breakdown_sums_equal_the_rows_they_sum);

const PAYERS: [&str; 2] = ["111111111111", "444444444444"];
/// The member accounts of each payer.
const MEMBERS: [[&str; 2]; 2] = [["111111111111", "222222222222"], ["444444444444", "555555555555"]];
const KEYS: [&str; 3] = ["us-east-1", "eu-west-1", ""];

fn first() -> NaiveDate {
    "2026-10-28".parse().unwrap()
}

fn rows(payer: usize, dimension: BreakdownDimension, days: std::ops::Range<u64>, version: i128) -> Vec<BreakdownFact> {
    let mut out = Vec::new();
    for d in days {
        for (a, account) in MEMBERS[payer].iter().enumerate() {
            for (k, key) in KEYS.iter().enumerate() {
                // Only the first payer has the empty key, and its restated version drops it,
                // as a region that stopped: the key must leave the rollup for those days.
                if (version > 0 || payer == 1) && key.is_empty() {
                    continue;
                }
                let units = ((d as i128 + 1) * 10_007 + a as i128 * 31 + k as i128 * 7 + version) * 1_000_000;
                out.push(BreakdownFact {
                    granularity: Granularity::Daily,
                    period_start: (first() + Days::new(d)).and_hms_opt(0, 0, 0).unwrap(),
                    account: AccountId::parse(account).unwrap(),
                    dimension,
                    key: key.to_string(),
                    amount: Money::from_units(if k == 1 && d == 3 { -units } else { units }),
                    estimated: d == 9,
                });
            }
        }
    }
    out
}

fn expected(rows: &[BreakdownFact], query: &SpendQuery) -> BTreeMap<String, Money> {
    let mut out = BTreeMap::new();
    for r in rows {
        let in_scope = query.accounts.as_ref().is_none_or(|a| a.contains(&r.account));
        if in_scope && query.range.contains(r.period_start) {
            *out.entry(r.key.clone()).or_insert(Money::ZERO) += r.amount;
        }
    }
    out
}

async fn breakdown_sums_equal_the_rows_they_sum(store: DynStore) {
    let at = first().and_hms_opt(12, 0, 0).unwrap();
    let all = DateRange::new(first(), first() + Days::new(10)).unwrap();
    let dimensions = [BreakdownDimension::Region, BreakdownDimension::UsageType, BreakdownDimension::RecordType];
    let mut stored: Vec<BreakdownFact> = Vec::new();
    for dimension in dimensions {
        for (p, payer) in PAYERS.iter().enumerate() {
            let payer = AccountId::parse(payer).unwrap();
            let written = rows(p, dimension, 0..10, 0);
            store.replace_breakdowns(&payer, Granularity::Daily, dimension, &all, &written, at).await.unwrap();
            stored.extend(written);
        }
    }
    check(&store, &stored).await;
    // The first payer restates days 4–7 of its record types: the rollup follows, and the
    // other payer's rows for the same days stay in it.
    let restated = DateRange::new(first() + Days::new(4), first() + Days::new(8)).unwrap();
    let payer = AccountId::parse(PAYERS[0]).unwrap();
    let now = rows(0, BreakdownDimension::RecordType, 4..8, 1);
    store
        .replace_breakdowns(&payer, Granularity::Daily, BreakdownDimension::RecordType, &restated, &now, at)
        .await
        .unwrap();
    let mine = |r: &BreakdownFact| MEMBERS[0].contains(&r.account.as_str());
    stored.retain(|r| !(r.dimension == BreakdownDimension::RecordType && mine(r) && restated.contains(r.period_start)));
    stored.extend(now);
    check(&store, &stored).await;
}

async fn check(store: &DynStore, stored: &[BreakdownFact]) {
    let account = |s: &str| AccountId::parse(s).unwrap();
    let scopes = [None, Some(vec![account("222222222222"), account("444444444444")]), Some(vec![])];
    let mut shapes = 0;
    for dimension in [BreakdownDimension::Region, BreakdownDimension::UsageType, BreakdownDimension::RecordType] {
        let of_dimension: Vec<BreakdownFact> = stored.iter().filter(|r| r.dimension == dimension).cloned().collect();
        for (from, to) in [(0, 10), (2, 6), (4, 5), (9, 12)] {
            let range = DateRange::new(first() + Days::new(from), first() + Days::new(to)).unwrap();
            for accounts in &scopes {
                let query =
                    SpendQuery { granularity: Granularity::Daily, range, accounts: accounts.clone(), services: None };
                let got: BTreeMap<String, Money> = store
                    .spend_by_dimension(&query, dimension)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.key, r.amount))
                    .collect();
                assert_eq!(got, expected(&of_dimension, &query), "{dimension:?} {range} {accounts:?}");
                shapes += 1;
            }
        }
    }
    assert_eq!(shapes, 36);
}

/// The rollup's fill in migration 0170: what an upgraded store runs over the breakdowns it
/// already holds.
fn fill_of(migration: &str) -> &str {
    &migration[migration.find("INSERT INTO cost_breakdown_rollups").expect("migration 0170 fills the rollup")..]
}

async fn filled_by_the_migration(store: DynStore, run_fill: impl std::future::Future<Output = ()>) {
    let at = first().and_hms_opt(12, 0, 0).unwrap();
    let all = DateRange::new(first(), first() + Days::new(10)).unwrap();
    let mut stored = Vec::new();
    for (p, payer) in PAYERS.iter().enumerate() {
        let written = rows(p, BreakdownDimension::Region, 0..10, 0);
        let payer = AccountId::parse(payer).unwrap();
        store
            .replace_breakdowns(&payer, Granularity::Daily, BreakdownDimension::Region, &all, &written, at)
            .await
            .unwrap();
        stored.extend(written);
    }
    run_fill.await;
    check(&store, &stored).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_breakdown_rollup_migration_fills_it_on_postgres(pool: sqlx::PgPool) {
    let store: DynStore = std::sync::Arc::new(costbot::store::PgStore::from_pool(pool.clone()));
    filled_by_the_migration(store, async {
        sqlx::query("DELETE FROM cost_breakdown_rollups").execute(&pool).await.unwrap();
        let sql = fill_of(include_str!("../../migrations/postgres/0170_breakdown_rollups.sql"));
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_breakdown_rollup_migration_fills_it_on_sqlite() {
    let sqlite = costbot::store::SqliteStore::in_memory().await.unwrap();
    let pool = sqlite.pool().clone();
    let store: DynStore = std::sync::Arc::new(sqlite);
    filled_by_the_migration(store, async {
        sqlx::query("DELETE FROM cost_breakdown_rollups").execute(&pool).await.unwrap();
        let sql = fill_of(include_str!("../../migrations/sqlite/0170_breakdown_rollups.sql"));
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    })
    .await;
}
