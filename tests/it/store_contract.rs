//! One contract, two stores: every case runs against Postgres (a fresh database per test from
//! `#[sqlx::test]`) and against an in-memory SQLite store.

use chrono::{NaiveDate, NaiveDateTime};
use costbot::domain::anomaly::{Finding, Kind, Severity};
use costbot::domain::incident::{reconcile, AnomalyMark, Change, EventKind, Scope, SeriesKey, Status};
use costbot::domain::run::{RunStatus, SourceReport};
use costbot::domain::{Account, AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, FactFilter};
use rust_decimal::Decimal;

/// Generates `<case>_postgres` and `<case>_sqlite` tests for each contract case.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = "migrations/postgres")]
                async fn $case(pool: sqlx::PgPool) {
                    super::$case(std::sync::Arc::new(costbot::store::PgStore::from_pool(pool))).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap())).await;
                }
            )*
        }
    };
}

// Other modules add cases of their own with `crate::store_contract::contract!`.
pub(crate) use contract;

contract!(
    facts_round_trip_exactly,
    replacing_twice_changes_nothing,
    replacing_corrects_restated_days_and_drops_vanished_rows,
    discovered_accounts_are_recorded,
    last_complete_day_ignores_estimated_facts,
    runs_record_each_source,
    a_tick_is_claimed_once,
    account_filters_never_widen,
    anomaly_changes_are_recorded_once,
    acknowledge_and_mute_record_who_and_when,
);

const PAYER: &str = "123456789012";
const LINKED: &str = "210987654321";

fn acct(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn day(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

pub fn at(d: &str) -> NaiveDateTime {
    day(d).and_hms_opt(0, 0, 0).unwrap()
}

fn range(a: &str, b: &str) -> DateRange {
    DateRange::new(day(a), day(b)).unwrap()
}

fn fact(d: &str, account: &str, service: &str, amount: &str, estimated: bool) -> CostFact {
    CostFact {
        granularity: Granularity::Daily,
        period_start: at(d),
        account: acct(account),
        service: ServiceName::parse(service).unwrap(),
        amount: Money::parse(amount).unwrap(),
        unit: "USD".into(),
        estimated,
    }
}

fn all(r: DateRange) -> FactFilter {
    FactFilter { granularity: Granularity::Daily, range: r, accounts: None }
}

fn exact(amounts: &[&str]) -> Money {
    Money::from_decimal(amounts.iter().map(|a| a.parse::<Decimal>().unwrap()).sum())
}

async fn facts_round_trip_exactly(store: DynStore) {
    let facts = vec![
        fact("2026-11-01", PAYER, "Amazon Simple Storage Service", "40.3543773134", false),
        fact("2026-11-01", LINKED, "Amazon Simple Storage Service", "0.0000000001", false),
        fact("2026-11-02", LINKED, "Tax", "-12.5", false),
        fact("2026-11-02", PAYER, "Amazon Elastic Compute Cloud - Compute", "123456789.0123456789", true),
    ];
    let r = range("2026-11-01", "2026-11-03");
    let written =
        store.replace_cost_facts(&acct(PAYER), Granularity::Daily, &r, &facts, at("2026-11-03")).await.unwrap();
    assert_eq!(written, 4);
    let mut read = store.cost_facts(&all(r)).await.unwrap();
    let mut expected = facts.clone();
    let key = |f: &CostFact| (f.period_start, f.account.clone(), f.service.clone());
    read.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(read, expected);
    let total = store.total(&all(r)).await.unwrap();
    assert_eq!(total, exact(&["40.3543773134", "0.0000000001", "-12.5", "123456789.0123456789"]));
    assert_eq!(store.count_facts(Granularity::Daily).await.unwrap(), 4);
    assert_eq!(store.count_facts(Granularity::Hourly).await.unwrap(), 0);
}

async fn replacing_twice_changes_nothing(store: DynStore) {
    let facts = vec![
        fact("2026-11-01", PAYER, "AWS Lambda", "1.10", false),
        fact("2026-11-02", PAYER, "AWS Lambda", "2.20", false),
    ];
    let r = range("2026-11-01", "2026-11-03");
    for _ in 0..2 {
        store.replace_cost_facts(&acct(PAYER), Granularity::Daily, &r, &facts, at("2026-11-03")).await.unwrap();
    }
    assert_eq!(store.cost_facts(&all(r)).await.unwrap(), facts);
    assert_eq!(store.total(&all(r)).await.unwrap(), exact(&["1.10", "2.20"]));
}

async fn replacing_corrects_restated_days_and_drops_vanished_rows(store: DynStore) {
    let first = vec![
        fact("2026-10-31", PAYER, "AWS Lambda", "5", false),
        fact("2026-11-01", PAYER, "AWS Lambda", "1", true),
        fact("2026-11-01", PAYER, "AWS Glue", "3", true),
    ];
    store
        .replace_cost_facts(
            &acct(PAYER),
            Granularity::Daily,
            &range("2026-10-31", "2026-11-02"),
            &first,
            at("2026-11-01"),
        )
        .await
        .unwrap();
    // Cost Explorer restates 1 November: Lambda grows, Glue disappears.
    let second = vec![fact("2026-11-01", PAYER, "AWS Lambda", "1.75", false)];
    store
        .replace_cost_facts(
            &acct(PAYER),
            Granularity::Daily,
            &range("2026-11-01", "2026-11-02"),
            &second,
            at("2026-11-02"),
        )
        .await
        .unwrap();
    let read = store.cost_facts(&all(range("2026-10-01", "2026-12-01"))).await.unwrap();
    assert_eq!(read, vec![first[0].clone(), second[0].clone()], "the day outside the range is untouched");
    // The rollups that unscoped answers read follow the facts exactly, restatement included.
    let query = costbot::store::SpendQuery {
        granularity: Granularity::Daily,
        range: range("2026-10-01", "2026-12-01"),
        accounts: None,
        services: None,
    };
    for group in
        [costbot::store::SpendGroup::Total, costbot::store::SpendGroup::Service, costbot::store::SpendGroup::Account]
    {
        let rolled: Money = store.spend_matrix(&query, group).await.unwrap().iter().map(|(_, r)| r.amount).sum();
        assert_eq!(rolled, exact(&["5", "1.75"]), "{group:?}");
    }
}

async fn discovered_accounts_are_recorded(store: DynStore) {
    store.upsert_accounts(&[Account { id: acct(PAYER), name: Some("payer".into()), configured: true }]).await.unwrap();
    let facts = vec![fact("2026-11-01", LINKED, "AWS Lambda", "1", false)];
    store
        .replace_cost_facts(
            &acct(PAYER),
            Granularity::Daily,
            &range("2026-11-01", "2026-11-02"),
            &facts,
            at("2026-11-02"),
        )
        .await
        .unwrap();
    let accounts = store.accounts().await.unwrap();
    assert_eq!(
        accounts,
        vec![
            Account { id: acct(PAYER), name: Some("payer".into()), configured: true },
            Account { id: acct(LINKED), name: None, configured: false },
        ]
    );
    // Naming the discovered account later keeps one row for it.
    store.upsert_accounts(&[Account { id: acct(LINKED), name: Some("prod".into()), configured: true }]).await.unwrap();
    assert_eq!(store.accounts().await.unwrap()[1].name.as_deref(), Some("prod"));
}

async fn last_complete_day_ignores_estimated_facts(store: DynStore) {
    assert_eq!(store.last_complete_day(&acct(PAYER), Granularity::Daily).await.unwrap(), None);
    let facts = vec![
        fact("2026-11-01", PAYER, "AWS Lambda", "1", false),
        fact("2026-11-02", PAYER, "AWS Lambda", "1", false),
        fact("2026-11-03", PAYER, "AWS Lambda", "1", true),
    ];
    store
        .replace_cost_facts(
            &acct(PAYER),
            Granularity::Daily,
            &range("2026-11-01", "2026-11-04"),
            &facts,
            at("2026-11-03"),
        )
        .await
        .unwrap();
    assert_eq!(store.last_complete_day(&acct(PAYER), Granularity::Daily).await.unwrap(), Some(day("2026-11-02")));
    assert_eq!(store.last_complete_day(&acct(LINKED), Granularity::Daily).await.unwrap(), None);
    assert_eq!(store.last_complete_day(&acct(PAYER), Granularity::Hourly).await.unwrap(), None);
}

async fn runs_record_each_source(store: DynStore) {
    let run = store.start_run("collect-costs", at("2026-11-03")).await.unwrap();
    let reports = vec![
        SourceReport {
            source: acct(PAYER),
            range: range("2026-11-01", "2026-11-04"),
            rows_written: 7,
            api_calls: 3,
            error: None,
        },
        SourceReport {
            source: acct(LINKED),
            range: range("2026-11-01", "2026-11-04"),
            rows_written: 0,
            api_calls: 1,
            error: Some("AccessDenied".into()),
        },
    ];
    store.finish_run(run, at("2026-11-03"), &reports).await.unwrap();
    let later = store.start_run("collect-costs", at("2026-11-04")).await.unwrap();
    let runs = store.recent_runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, later, "newest first");
    assert_eq!(runs[0].status, RunStatus::Running);
    let done = &runs[1];
    assert_eq!((done.status, done.rows_written, done.api_calls), (RunStatus::Partial, 7, 4));
    assert_eq!(done.error.as_deref(), Some("account 210987654321: AccessDenied"));
    assert_eq!(done.sources, reports);
}

async fn a_tick_is_claimed_once(store: DynStore) {
    let tick = at("2026-11-03");
    let claims = futures::future::join_all((0..8).map(|i| {
        let store = store.clone();
        async move { store.claim_tick("collect-costs", tick, &format!("replica-{i}")).await.unwrap() }
    }))
    .await;
    assert_eq!(claims.iter().filter(|won| **won).count(), 1, "{claims:?}");
    assert!(store.claim_tick("collect-costs", at("2026-11-04"), "replica-0").await.unwrap());
    assert!(store.claim_tick("digest", tick, "replica-0").await.unwrap(), "ticks are per job");
}

async fn account_filters_never_widen(store: DynStore) {
    let facts =
        vec![fact("2026-11-01", PAYER, "AWS Lambda", "1", false), fact("2026-11-01", LINKED, "AWS Lambda", "2", false)];
    let r = range("2026-11-01", "2026-11-02");
    store.replace_cost_facts(&acct(PAYER), Granularity::Daily, &r, &facts, at("2026-11-02")).await.unwrap();
    let only = |ids: Vec<AccountId>| FactFilter { granularity: Granularity::Daily, range: r, accounts: Some(ids) };
    assert_eq!(store.total(&only(vec![acct(LINKED)])).await.unwrap(), Money::parse("2").unwrap());
    assert_eq!(store.total(&only(vec![])).await.unwrap(), Money::ZERO, "an empty allow-list selects nothing");
    assert!(store.cost_facts(&only(vec![])).await.unwrap().is_empty());
    assert_eq!(store.source_fact_count(&acct(PAYER), &all(r)).await.unwrap(), 2);
}

pub fn ec2_key() -> SeriesKey {
    SeriesKey {
        granularity: Granularity::Daily,
        scope: Scope::Service { account: acct(PAYER), service: ServiceName::parse("Amazon EC2").unwrap() },
    }
}

pub fn spike(start: &str, end: &str, impact: i64, severity: Severity) -> Finding {
    Finding {
        start: at(start),
        end: at(end),
        ongoing: true,
        expected: Decimal::from(100),
        actual: Decimal::from(100 + impact),
        impact: Decimal::from(impact),
        percent: Decimal::from(impact),
        score: 9.5,
        severity,
        kind: Kind::Spike,
        provisional: false,
        points: 1,
    }
}

async fn anomaly_changes_are_recorded_once(store: DynStore) {
    let opened =
        reconcile(&[], &[(ec2_key(), spike("2026-11-20", "2026-11-20", 300, Severity::High))], at("2026-11-21"));
    // Two replicas (or a retried run) apply the same opening: one anomaly, one event.
    assert_eq!(store.apply_anomaly_changes(&opened, at("2026-11-21")).await.unwrap(), 1);
    assert_eq!(store.apply_anomaly_changes(&opened, at("2026-11-21")).await.unwrap(), 0);
    let open = store.open_anomalies(Granularity::Daily).await.unwrap();
    assert_eq!(open.len(), 1);
    let Change::Opened(first) = &opened[0] else { unreachable!() };
    assert_eq!(&open[0], first, "the record round-trips exactly");

    let grown =
        reconcile(&open, &[(ec2_key(), spike("2026-11-20", "2026-11-21", 900, Severity::Critical))], at("2026-11-22"));
    assert_eq!(store.apply_anomaly_changes(&grown, at("2026-11-22")).await.unwrap(), 1);
    assert_eq!(store.apply_anomaly_changes(&grown, at("2026-11-22")).await.unwrap(), 0, "a stale version is refused");
    let resolved = reconcile(&store.open_anomalies(Granularity::Daily).await.unwrap(), &[], at("2026-11-24"));
    assert_eq!(store.apply_anomaly_changes(&resolved, at("2026-11-24")).await.unwrap(), 1);

    assert!(store.open_anomalies(Granularity::Daily).await.unwrap().is_empty());
    let stored = store.anomaly(&first.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.version, stored.severity), (Status::Resolved, 3, Severity::Critical));
    assert_eq!(stored.impact, Money::parse("900").unwrap());
    let events = store.alert_events(0, 10).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.version)).collect();
    assert_eq!(kinds, vec![(EventKind::Opened, 1), (EventKind::Updated, 2), (EventKind::Resolved, 3)]);
    assert!(store.alert_events(events[1].id, 10).await.unwrap().len() == 1, "consumers page by id");
    assert_eq!(store.anomalies(false, 10).await.unwrap().len(), 1);
    assert!(store.anomalies(true, 10).await.unwrap().is_empty());
}

async fn acknowledge_and_mute_record_who_and_when(store: DynStore) {
    let opened =
        reconcile(&[], &[(ec2_key(), spike("2026-11-20", "2026-11-20", 300, Severity::High))], at("2026-11-21"));
    store.apply_anomaly_changes(&opened, at("2026-11-21")).await.unwrap();
    let first = store.open_anomalies(Granularity::Daily).await.unwrap().remove(0);
    let ack = AnomalyMark::Acknowledge { by: "slack:U123".into() };
    let (acked, entry) = store.mark_anomaly(&mark(&first, ack, at("2026-11-21"))).await.unwrap().unwrap();
    assert_eq!(acked.acknowledged.as_ref().map(|m| (m.by.as_str(), m.at)), Some(("slack:U123", at("2026-11-21"))));
    assert_eq!(store.anomaly(&first.id).await.unwrap().unwrap(), acked, "stored as returned");
    assert_eq!((entry.seq, entry.record.action.as_str()), (1, "anomaly_marked"), "audited with it");
    let mute = AnomalyMark::Mute { by: "slack:U456".into(), until: at("2026-11-28") };
    let (muted, _) = store.mark_anomaly(&mark(&acked, mute, at("2026-11-22"))).await.unwrap().unwrap();
    assert!(muted.is_muted(at("2026-11-27")) && !muted.is_muted(at("2026-11-28")));
    assert_eq!(muted.version, 3);
    let events = store.alert_events(0, 10).await.unwrap();
    let who: Vec<_> = events.iter().map(|e| (e.kind, e.actor.clone())).collect();
    assert_eq!(
        who,
        vec![
            (EventKind::Opened, None),
            (EventKind::Acknowledged, Some("slack:U123".to_string())),
            (EventKind::Muted, Some("slack:U456".to_string())),
        ]
    );
    // A mark made from a version someone else changed since is a lost race: nothing is
    // written, its audit record included.
    let stale = AnomalyMark::Acknowledge { by: "x".into() };
    assert!(store.mark_anomaly(&mark(&first, stale, at("2026-11-22"))).await.unwrap().is_none());
    assert_eq!(store.anomaly(&first.id).await.unwrap().unwrap(), muted);
    assert_eq!(store.audit_entries(0, 10).await.unwrap().len(), 2);
    assert_eq!(store.alert_events(0, 10).await.unwrap().len(), 3);
}

/// A mark on an anomaly as it was read, with an audit record naming it.
pub fn mark(
    anomaly: &costbot::domain::incident::Anomaly,
    mark: AnomalyMark,
    now: NaiveDateTime,
) -> costbot::store::AnomalyMarkChange<'_> {
    let audit = costbot::domain::audit::AuditRecord {
        at: now,
        actor: mark.by().to_string(),
        action: "anomaly_marked".into(),
        target: anomaly.id.0.clone(),
        channel: Some("C1".into()),
        detail: "{}".into(),
    };
    costbot::store::AnomalyMarkChange { anomaly, mark, audit, now }
}
