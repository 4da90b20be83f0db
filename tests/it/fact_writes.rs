//! The collector's fact write when two sources hold the same account, day and service: the
//! later write replaces the row, whichever way the engine wrote it (on Postgres, COPY straight
//! into the table when nothing can collide, the scratch table's upsert when something can),
//! and the rollups sum what the facts hold. On Postgres also when the colliding row is still
//! uncommitted in another transaction while the write checks for collisions.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, FactFilter, SpendGroup, SpendQuery};

crate::store_contract::contract!(a_later_source_replaces_a_shared_key_and_the_rollups_follow);

const PAYER_A: &str = "111111111111";
const PAYER_B: &str = "444444444444";
/// An account both payers report, as while an account moves between organisations.
const SHARED: &str = "222222222222";

fn at(text: &str) -> NaiveDateTime {
    format!("{text}T00:00:00").parse().unwrap()
}

fn range() -> DateRange {
    DateRange::new("2026-11-01".parse().unwrap(), "2026-11-04".parse().unwrap()).unwrap()
}

fn fact(day: &str, account: &str, service: &str, dollars: i64) -> CostFact {
    CostFact {
        granularity: Granularity::Daily,
        period_start: at(day),
        account: AccountId::parse(account).unwrap(),
        service: ServiceName::parse(service).unwrap(),
        amount: Money::from_units(i128::from(dollars) * 10_000_000_000),
        unit: "USD".into(),
        estimated: false,
    }
}

/// Payer A's facts: its own account and the shared one, every day of the range.
fn payer_a(dollars: i64) -> Vec<CostFact> {
    let mut out = Vec::new();
    for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        out.push(fact(day, PAYER_A, "Amazon EC2", dollars));
        out.push(fact(day, SHARED, "Amazon EC2", dollars + 1));
    }
    out
}

/// What the store must hold: the facts of each write, a later write's rows replacing an
/// earlier one's with the same key.
fn merged(writes: &[&[CostFact]]) -> BTreeMap<(NaiveDateTime, String, String), Money> {
    let mut out = BTreeMap::new();
    for facts in writes {
        for f in *facts {
            out.insert((f.period_start, f.account.as_str().to_owned(), f.service.as_str().to_owned()), f.amount);
        }
    }
    out
}

async fn assert_holds(store: &DynStore, expected: &BTreeMap<(NaiveDateTime, String, String), Money>) {
    let filter = FactFilter { granularity: Granularity::Daily, range: range(), accounts: None };
    let stored: BTreeMap<_, _> = store
        .cost_facts(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|f| ((f.period_start, f.account.as_str().to_owned(), f.service.as_str().to_owned()), f.amount))
        .collect();
    assert_eq!(&stored, expected);
    // The rollups answer the unscoped total and the per-account rows: they must agree.
    let mut by_account: BTreeMap<String, Money> = BTreeMap::new();
    for ((_, account, _), amount) in expected {
        *by_account.entry(account.clone()).or_insert(Money::ZERO) += *amount;
    }
    let query = SpendQuery { granularity: Granularity::Daily, range: range(), accounts: None, services: None };
    let rows = store.spend(&query, SpendGroup::Account).await.unwrap();
    let got: BTreeMap<String, Money> = rows.into_iter().map(|r| (r.key, r.amount)).collect();
    assert_eq!(got, by_account);
    assert_eq!(store.total(&filter).await.unwrap(), by_account.values().copied().sum::<Money>());
}

async fn a_later_source_replaces_a_shared_key_and_the_rollups_follow(store: DynStore) {
    let (a, b) = (AccountId::parse(PAYER_A).unwrap(), AccountId::parse(PAYER_B).unwrap());
    let first = payer_a(10);
    store.replace_cost_facts(&a, Granularity::Daily, &range(), &first, at("2026-11-04")).await.unwrap();
    assert_holds(&store, &merged(&[&first])).await;
    // Payer B reports the shared account's EC2 on two of the days, and its own account.
    let second = vec![
        fact("2026-11-02", SHARED, "Amazon EC2", 50),
        fact("2026-11-03", SHARED, "Amazon EC2", 60),
        fact("2026-11-03", PAYER_B, "AWS Lambda", 7),
    ];
    store.replace_cost_facts(&b, Granularity::Daily, &range(), &second, at("2026-11-04")).await.unwrap();
    assert_holds(&store, &merged(&[&first, &second])).await;
    let filter = FactFilter { granularity: Granularity::Daily, range: range(), accounts: None };
    assert_eq!(store.source_fact_count(&b, &filter).await.unwrap(), 3);
    assert_eq!(store.source_fact_count(&a, &filter).await.unwrap(), 4, "B took two of A's rows");
    // Payer A collects again: B still holds rows of the shared account in the range.
    let third = payer_a(20);
    store.replace_cost_facts(&a, Granularity::Daily, &range(), &third, at("2026-11-05")).await.unwrap();
    assert_holds(&store, &merged(&[&second, &third])).await;
    assert_eq!(store.source_fact_count(&b, &filter).await.unwrap(), 1, "A took the shared rows back");
}

/// Payer B's transaction has inserted a row of the shared account and not committed when
/// payer A's write looks for collisions, so A's write cannot see it and COPYs straight into
/// the table; the COPY then waits on that key, B commits, and the duplicate must send A's rows
/// through the upsert instead of failing the collection.
#[sqlx::test(migrations = "migrations/postgres")]
async fn a_row_committed_during_the_copy_sends_the_write_through_the_upsert(pool: sqlx::PgPool) {
    let store: DynStore = std::sync::Arc::new(costbot::store::PgStore::from_pool(pool.clone()));
    // The accounts are known already; only the fact is in flight (an account row in flight
    // would hold A's write at its own account upsert, before it looks for collisions).
    for id in [SHARED, PAYER_B] {
        sqlx::query(
            "INSERT INTO accounts (id, name, configured, first_seen, updated_at) VALUES ($1, NULL, FALSE, $2, $2)",
        )
        .bind(id)
        .bind(at("2026-11-04"))
        .execute(&pool)
        .await
        .unwrap();
    }
    let mut other = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO cost_facts (granularity, period_start, account_id, service, amount_units, unit, estimated,
         source_account_id, collected_at) VALUES ('daily', $1, $2, 'Amazon EC2', 1, 'USD', FALSE, $3, $4)",
    )
    .bind(at("2026-11-02"))
    .bind(SHARED)
    .bind(PAYER_B)
    .bind(at("2026-11-04"))
    .execute(&mut *other)
    .await
    .unwrap();
    let facts = payer_a(10);
    let write = tokio::spawn({
        let (store, facts) = (store.clone(), facts.clone());
        async move {
            let a = AccountId::parse(PAYER_A).unwrap();
            store.replace_cost_facts(&a, Granularity::Daily, &range(), &facts, at("2026-11-04")).await
        }
    });
    // Wait until A's write is blocked on B's uncommitted key, then let B commit.
    let mut waited = 0;
    loop {
        let blocked: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if blocked > 0 {
            break;
        }
        assert!(!write.is_finished(), "the write finished without waiting on the uncommitted key: {:?}", write.await);
        waited += 1;
        assert!(waited < 600, "the write never waited on the uncommitted key");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    other.commit().await.unwrap();
    let written = write.await.unwrap().expect("the write falls back to the upsert");
    assert_eq!(written, facts.len() as u64);
    assert_holds(&store, &merged(&[&facts])).await;
    let filter = FactFilter { granularity: Granularity::Daily, range: range(), accounts: None };
    assert_eq!(store.source_fact_count(&AccountId::parse(PAYER_B).unwrap(), &filter).await.unwrap(), 0);
}
