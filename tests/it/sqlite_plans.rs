//! SQLite plans its queries from statistics it gathers itself (`PRAGMA optimize` when a
//! connection opens): without them it preferred any covering index and scanned the whole
//! service index for a question scoped to three accounts. A store reopened after a load must
//! read a scope's facts down the account index and its rollups down the key index.

use chrono::{Days, NaiveDate};
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{CostStore, SchemaStore, SqliteStore};

fn facts(first: NaiveDate) -> Vec<CostFact> {
    let mut out = Vec::new();
    for d in 0..60u64 {
        for a in 0..20u64 {
            for s in 0..10u64 {
                out.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: (first + Days::new(d)).and_hms_opt(0, 0, 0).unwrap(),
                    account: AccountId::parse(&format!("{:012}", 100_000_000_000 + a)).unwrap(),
                    service: ServiceName::parse(&format!("Service {s:02}")).unwrap(),
                    amount: Money::from_units(i128::from(d * 1_000 + a * 10 + s + 1) * 1_000_000),
                    unit: "USD".into(),
                    estimated: false,
                });
            }
        }
    }
    out
}

async fn plan(store: &SqliteStore, sql: &str) -> String {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(store.pool()).await.unwrap();
    rows.into_iter().map(|(_, _, _, detail)| detail).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn a_reopened_store_reads_a_scope_down_the_account_and_key_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.sqlite");
    let first: NaiveDate = "2026-09-01".parse().unwrap();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let payer = AccountId::parse("100000000000").unwrap();
        let range = DateRange::new(first, first + Days::new(60)).unwrap();
        let at = first.and_hms_opt(12, 0, 0).unwrap();
        store.replace_cost_facts(&payer, Granularity::Daily, &range, &facts(first), at).await.unwrap();
        store.pool().close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    store.ping().await.unwrap();
    let (from, to) = ("'2026-09-10 00:00:00'", "'2026-10-10 00:00:00'");
    let scope = "('100000000003', '100000000004', '100000000005')";
    let facts_plan = plan(
        &store,
        &format!(
            "SELECT service, SUM(amount_units) FROM cost_facts WHERE granularity = 'daily' AND period_start >= {from}
             AND period_start < {to} AND account_id IN {scope} GROUP BY service"
        ),
    )
    .await;
    assert!(facts_plan.contains("cost_facts_by_account"), "{facts_plan}");
    let rollup_plan = plan(
        &store,
        &format!(
            "SELECT period_start, SUM(amount_units) FROM cost_rollups WHERE granularity = 'daily' AND dimension = 'account'
             AND period_start >= {from} AND period_start < {to} AND key IN {scope} GROUP BY period_start"
        ),
    )
    .await;
    assert!(rollup_plan.contains("cost_rollups_by_key"), "{rollup_plan}");
    // The store answers from those reads what the facts hold.
    let total = store
        .total(&costbot::store::FactFilter {
            granularity: Granularity::Daily,
            range: DateRange::new(first, first + Days::new(60)).unwrap(),
            accounts: None,
        })
        .await
        .unwrap();
    assert_eq!(total, facts(first).iter().map(|f| f.amount).sum());
}
