//! What detection reads, on both stores. Streaming facts (`visit_cost_facts`,
//! `visit_usage_facts`) sees exactly what reading them whole returns: every row once, exact
//! amounts, the estimated mark, and account filters that never widen. `fact_source` names the
//! source of an account's newest fact of either granularity.

use std::sync::Arc;

use costbot::domain::{AccountId, CostFact, Granularity, Money};
use costbot::store::{FactFilter, FactRef, Store};

use crate::store_contract::{at, contract};

contract!(visiting_facts_sees_what_reading_returns, the_newest_fact_names_the_source);

/// A visited row, owned, in the shape `cost_facts` returns.
type Seen = (chrono::NaiveDateTime, String, String, Money, bool);

fn owned(f: FactRef<'_>) -> Seen {
    (f.period_start, f.account.to_string(), f.service.to_string(), f.amount(), f.estimated)
}

fn read(facts: &[CostFact]) -> Vec<Seen> {
    let mut rows: Vec<Seen> = facts
        .iter()
        .map(|f| (f.period_start, f.account.to_string(), f.service.to_string(), f.amount, f.estimated))
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));
    rows
}

async fn visit_cost(store: &impl Store, filter: &FactFilter) -> Vec<Seen> {
    let mut seen = Vec::new();
    let n = store
        .visit_cost_facts(filter, &mut |f| {
            seen.push(owned(f));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(n as usize, seen.len());
    seen.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));
    seen
}

async fn visit_usage(store: &impl Store, filter: &FactFilter) -> Vec<Seen> {
    let mut seen = Vec::new();
    store
        .visit_usage_facts(filter, &mut |f| {
            seen.push(owned(f));
            Ok(())
        })
        .await
        .unwrap();
    seen.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));
    seen
}

async fn visiting_facts_sees_what_reading_returns(store: Arc<impl Store>) {
    let r = costbot::domain::DateRange::new("2026-11-01".parse().unwrap(), "2026-11-08".parse().unwrap()).unwrap();
    let accounts = ["123456789012", "210987654321", "333333333333"];
    let mut facts = Vec::new();
    for d in 0..7u64 {
        for (a, account) in accounts.iter().enumerate() {
            for service in ["AWS Lambda", "Amazon Simple Storage Service", "Tax"] {
                let units = (d as i128 + 1) * 1_234_567_891 * (a as i128 + 1)
                    - if service == "Tax" { 90_000_000_000 } else { 0 };
                facts.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: (r.start() + chrono::Days::new(d)).and_hms_opt(0, 0, 0).unwrap(),
                    account: AccountId::parse(account).unwrap(),
                    service: costbot::domain::ServiceName::parse(service).unwrap(),
                    amount: Money::from_units(units),
                    unit: "USD".into(),
                    estimated: d == 6,
                });
            }
        }
    }
    let payer = AccountId::parse(accounts[0]).unwrap();
    store.replace_cost_facts(&payer, Granularity::Daily, &r, &facts, at("2026-11-08")).await.unwrap();
    store.replace_usage_facts(&payer, Granularity::Daily, &r, &facts[..20], at("2026-11-08")).await.unwrap();

    let filters = [
        FactFilter { granularity: Granularity::Daily, range: r, accounts: None },
        FactFilter {
            granularity: Granularity::Daily,
            range: costbot::domain::DateRange::new("2026-11-03".parse().unwrap(), "2026-11-05".parse().unwrap())
                .unwrap(),
            accounts: Some(vec![AccountId::parse(accounts[1]).unwrap()]),
        },
        FactFilter { granularity: Granularity::Daily, range: r, accounts: Some(vec![]) },
        FactFilter { granularity: Granularity::Hourly, range: r, accounts: None },
    ];
    for filter in &filters {
        let whole = read(&store.cost_facts(filter).await.unwrap());
        assert_eq!(visit_cost(&*store, filter).await, whole, "cost facts, {filter:?}");
        let usage = read(&store.usage_facts(filter).await.unwrap());
        assert_eq!(visit_usage(&*store, filter).await, usage, "usage facts, {filter:?}");
    }
    assert_eq!(visit_cost(&*store, &filters[0]).await.len(), 63);
    assert_eq!(visit_usage(&*store, &filters[0]).await.len(), 20);
    assert!(visit_cost(&*store, &filters[2]).await.is_empty(), "an empty allow-list selects nothing");

    // An error from the visitor stops the read and comes back to the caller.
    let mut calls = 0;
    let stopped = store
        .visit_cost_facts(&filters[0], &mut |_| {
            calls += 1;
            anyhow::bail!("enough")
        })
        .await;
    assert!(stopped.is_err());
    assert_eq!(calls, 1);
    // The store still reads afterwards (Postgres closes the connection stopped mid-COPY).
    for _ in 0..3 {
        assert_eq!(visit_cost(&*store, &filters[0]).await.len(), 63);
    }
}

async fn the_newest_fact_names_the_source(store: Arc<impl Store>) {
    let fact = |g: Granularity, at: &str, account: &str| CostFact {
        granularity: g,
        period_start: at.parse().unwrap(),
        account: AccountId::parse(account).unwrap(),
        service: costbot::domain::ServiceName::parse("AWS Lambda").unwrap(),
        amount: Money::from_cents(100),
        unit: "USD".into(),
        estimated: false,
    };
    let (old_payer, new_payer, linked) = ("111111111111", "222222222222", "333333333333");
    let days = costbot::domain::DateRange::new("2026-11-01".parse().unwrap(), "2026-11-03".parse().unwrap()).unwrap();
    let old = [fact(Granularity::Daily, "2026-11-01T00:00:00", linked)];
    store
        .replace_cost_facts(&AccountId::parse(old_payer).unwrap(), Granularity::Daily, &days, &old, at("2026-11-03"))
        .await
        .unwrap();
    let linked_id = AccountId::parse(linked).unwrap();
    assert_eq!(store.fact_source(&linked_id).await.unwrap().map(|a| a.to_string()), Some(old_payer.to_string()));
    // A newer hourly fact from another payer wins over the older daily one.
    let new = [fact(Granularity::Hourly, "2026-11-02T13:00:00", linked)];
    store
        .replace_cost_facts(&AccountId::parse(new_payer).unwrap(), Granularity::Hourly, &days, &new, at("2026-11-03"))
        .await
        .unwrap();
    assert_eq!(store.fact_source(&linked_id).await.unwrap().map(|a| a.to_string()), Some(new_payer.to_string()));
    assert_eq!(store.fact_source(&AccountId::parse("444444444444").unwrap()).await.unwrap(), None);
}
