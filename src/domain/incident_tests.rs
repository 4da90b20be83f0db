//! Tests of the anomaly lifecycle: reconciliation, marks and events.

use super::*;

fn key(service: &str) -> SeriesKey {
    SeriesKey {
        granularity: Granularity::Daily,
        scope: Scope::Service {
            account: AccountId::parse("123456789012").unwrap(),
            service: ServiceName::parse(service).unwrap(),
        },
    }
}

fn at(d: &str) -> NaiveDateTime {
    format!("{d}T00:00:00").parse().unwrap()
}

fn finding(start: &str, end: &str, impact: i64, severity: Severity) -> Finding {
    Finding {
        start: at(start),
        end: at(end),
        ongoing: true,
        expected: Decimal::from(100),
        actual: Decimal::from(100 + impact),
        impact: Decimal::from(impact),
        percent: Decimal::from(impact),
        score: 9.0,
        severity,
        kind: Kind::Spike,
        provisional: false,
        points: 1,
    }
}

fn opened(changes: &[Change]) -> Anomaly {
    match &changes[0] {
        Change::Opened(a) => a.clone(),
        other => panic!("expected an opening, got {other:?}"),
    }
}

#[test]
fn a_finding_opens_one_anomaly_with_a_stable_id() {
    let f = finding("2026-11-20", "2026-11-20", 300, Severity::High);
    let first = reconcile(&[], &[(key("EC2"), f.clone())], at("2026-11-21"));
    let again = reconcile(&[], &[(key("EC2"), f)], at("2026-11-21"));
    assert_eq!(first.len(), 1);
    assert_eq!(opened(&first).id, opened(&again).id, "two replicas derive the same id");
    assert_eq!(opened(&first).impact.to_string(), "$300.00");
}

#[test]
fn the_same_anomaly_next_run_is_not_announced_again() {
    let a = opened(&reconcile(
        &[],
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High))],
        at("2026-11-21"),
    ));
    let changes = reconcile(
        std::slice::from_ref(&a),
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 305, Severity::High))],
        at("2026-11-21"),
    );
    assert!(changes.is_empty(), "{changes:?}");
    // Re-scoring moved the start by a day: still the same incident.
    let moved =
        reconcile(&[a], &[(key("EC2"), finding("2026-11-19", "2026-11-20", 310, Severity::High))], at("2026-11-21"));
    assert!(moved.iter().all(|c| !matches!(c, Change::Opened(_))), "{moved:?}");
}

#[test]
fn growth_updates_in_place_and_a_quiet_extension_does_not_ping() {
    let a = opened(&reconcile(
        &[],
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High))],
        at("2026-11-21"),
    ));
    let grown = reconcile(
        std::slice::from_ref(&a),
        &[(key("EC2"), finding("2026-11-20", "2026-11-21", 900, Severity::Critical))],
        at("2026-11-22"),
    );
    let Change::Updated(updated) = &grown[0] else { panic!("{grown:?}") };
    assert_eq!((updated.id.clone(), updated.version, updated.severity), (a.id.clone(), 2, Severity::Critical));
    let longer = reconcile(
        std::slice::from_ref(&a),
        &[(key("EC2"), finding("2026-11-20", "2026-11-21", 310, Severity::High))],
        at("2026-11-22"),
    );
    let Change::Extended(extended) = &longer[0] else { panic!("{longer:?}") };
    assert_eq!((extended.version, extended.end), (1, at("2026-11-21")));
}

#[test]
fn an_anomaly_that_is_no_longer_found_resolves() {
    let a = opened(&reconcile(
        &[],
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High))],
        at("2026-11-21"),
    ));
    let changes = reconcile(std::slice::from_ref(&a), &[], at("2026-11-23"));
    let Change::Resolved(r) = &changes[0] else { panic!("{changes:?}") };
    assert_eq!((r.status, r.version, r.resolved_at), (Status::Resolved, 2, Some(at("2026-11-23"))));
}

#[test]
fn a_run_older_than_the_anomaly_neither_resolves_nor_rewinds_it() {
    let a = opened(&reconcile(
        &[],
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High))],
        at("2026-11-21"),
    ));
    assert!(
        reconcile(std::slice::from_ref(&a), &[], at("2026-10-26")).is_empty(),
        "a replay from October resolves nothing"
    );
    let stale = reconcile(
        std::slice::from_ref(&a),
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 900, Severity::Critical))],
        at("2026-11-20"),
    );
    assert!(stale.is_empty(), "{stale:?}");
    assert!(!reconcile(&[a], &[], at("2026-11-23")).is_empty(), "a newer run still resolves it");
}

#[test]
fn a_later_separate_incident_on_the_same_series_opens_anew() {
    let a = opened(&reconcile(
        &[],
        &[(key("EC2"), finding("2026-11-01", "2026-11-01", 300, Severity::High))],
        at("2026-11-02"),
    ));
    let changes =
        reconcile(&[a], &[(key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High))], at("2026-11-21"));
    assert!(changes.iter().any(|c| matches!(c, Change::Opened(_))));
    assert!(changes.iter().any(|c| matches!(c, Change::Resolved(_))));
}

#[test]
fn a_total_explained_by_one_service_is_not_announced_twice() {
    let account = AccountId::parse("123456789012").unwrap();
    let total_key = SeriesKey { granularity: Granularity::Daily, scope: Scope::Account { account: account.clone() } };
    let org_key = SeriesKey { granularity: Granularity::Daily, scope: Scope::Organisation };
    let findings = vec![
        (key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High)),
        (total_key.clone(), finding("2026-11-20", "2026-11-20", 320, Severity::High)),
        (org_key, finding("2026-11-20", "2026-11-20", 330, Severity::High)),
    ];
    let changes = suppress_rollups(reconcile(&[], &findings, at("2026-11-21")), &[]);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(opened(&changes).key, key("EC2"));
    // Many small services creeping up: no single child explains the total, so it alerts.
    let creeping = vec![
        (key("EC2"), finding("2026-11-20", "2026-11-20", 100, Severity::Low)),
        (total_key.clone(), finding("2026-11-20", "2026-11-20", 900, Severity::High)),
    ];
    let changes = suppress_rollups(reconcile(&[], &creeping, at("2026-11-21")), &[]);
    assert!(changes.iter().any(|c| matches!(c, Change::Opened(a) if a.key == total_key)), "{changes:?}");
}

#[test]
fn mutes_expire() {
    let mut a = opened(&reconcile(
        &[],
        &[(key("EC2"), finding("2026-11-20", "2026-11-20", 300, Severity::High))],
        at("2026-11-21"),
    ));
    a.muted_until = Some((Mark { by: "U1".into(), at: at("2026-11-21") }, at("2026-11-28")));
    assert!(a.is_muted(at("2026-11-27")));
    assert!(!a.is_muted(at("2026-11-28")));
}
