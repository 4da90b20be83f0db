//! Detection on usage, not net spend (issue 17, item 4), on both stores: a monthly fee that
//! lands on net spend only does not alert when usage-only facts are stored, and a source
//! without usage facts is still scored on its net facts. With `usage_only = false` the fee
//! alerts, which shows the test would catch detection reading the wrong table.

use std::sync::Arc;

use chrono::{Days, NaiveDate, NaiveDateTime};
use costbot::detection::{Detection, DetectionSettings};
use costbot::domain::anomaly::ThresholdSet;
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, Store};

use crate::store_contract::contract;

contract!(a_fee_on_net_spend_only_does_not_alert_when_usage_is_stored);

const FEES: &str = "111111111111";
const PLAIN: &str = "222222222222";

fn day(i: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + Days::new(i)
}

/// 120 days of EC2 at about $500 a day in one account; on the last day `extra` on top.
fn facts(account: &str, extra: i64) -> Vec<CostFact> {
    (0..120u64)
        .map(|i| {
            let wobble = ((i * 37) % 11) as i64 - 5;
            let last = if i == 119 { extra } else { 0 };
            CostFact {
                granularity: Granularity::Daily,
                period_start: day(i).and_hms_opt(0, 0, 0).unwrap(),
                account: AccountId::parse(account).unwrap(),
                service: ServiceName::parse("Amazon Elastic Compute Cloud - Compute").unwrap(),
                amount: Money::from_decimal(rust_decimal::Decimal::from(500 + wobble + last)),
                unit: "USD".into(),
                estimated: false,
            }
        })
        .collect()
}

fn settings(usage_only: bool) -> DetectionSettings {
    DetectionSettings {
        granularity: Granularity::Daily,
        lookback_days: 100,
        thresholds: ThresholdSet::default(),
        by_tags: Vec::new(),
        usage_only,
    }
}

async fn alerted_accounts(store: &DynStore, usage_only: bool) -> Vec<String> {
    let as_of: NaiveDateTime = day(120).and_hms_opt(6, 0, 0).unwrap();
    let breakdown = Arc::new(costbot::sim::SimulatedCloud::demo(7, as_of));
    Detection::new(store.clone(), breakdown, settings(usage_only)).run(as_of).await.unwrap();
    let mut accounts: Vec<String> = store
        .anomalies(true, 50)
        .await
        .unwrap()
        .iter()
        .filter_map(|a| a.key.account().map(|acct| acct.to_string()))
        .collect();
    accounts.sort();
    accounts.dedup();
    accounts
}

async fn a_fee_on_net_spend_only_does_not_alert_when_usage_is_stored(store: Arc<impl Store>) {
    let store: DynStore = store;
    let range = DateRange::new(day(0), day(120)).unwrap();
    let at = day(120).and_hms_opt(5, 0, 0).unwrap();
    // The fee account: a $3,000 support fee on net spend; its usage did not change.
    let fee_payer = AccountId::parse(FEES).unwrap();
    store.replace_cost_facts(&fee_payer, Granularity::Daily, &range, &facts(FEES, 3_000), at).await.unwrap();
    store.replace_usage_facts(&fee_payer, Granularity::Daily, &range, &facts(FEES, 0), at).await.unwrap();
    // The plain account: its source cannot split record types, and its usage really jumped.
    let plain_payer = AccountId::parse(PLAIN).unwrap();
    store.replace_cost_facts(&plain_payer, Granularity::Daily, &range, &facts(PLAIN, 3_000), at).await.unwrap();

    assert_eq!(
        alerted_accounts(&store, true).await,
        vec![PLAIN.to_string()],
        "usage scored where stored, net elsewhere"
    );
    assert_eq!(
        alerted_accounts(&store, false).await,
        vec![FEES.to_string(), PLAIN.to_string()],
        "net spend alerts on the fee: the first run read usage, not net"
    );
}
