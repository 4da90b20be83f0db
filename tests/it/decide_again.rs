//! The re-check right before acting is the same decision again, on a real Postgres: fresh
//! activity re-runs the rule, an approval holds only for a while, discovery withdraws approved
//! proposals whose waste is gone (only where it looked), and a dry run is asked again once
//! actions are real.

use std::sync::atomic::Ordering;

use chrono::Duration;
use costbot::domain::chat::message::Verb;
use costbot::domain::proposal::{State, APPROVAL_HOLDS};
use costbot::domain::resource::SafetyPath;
use costbot::domain::AccountId;
use costbot::proposals::{propose, propose_covering, Coverage};

use crate::approvals::{finding, instance, now, world};

async fn actions(w: &crate::approvals::World) -> Vec<String> {
    w.store.audit_entries(0, 100).await.unwrap().into_iter().map(|e| e.record.action).collect()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_resource_that_became_busy_after_approval_is_not_stopped(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-busy", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    // Fresh CloudWatch datapoints: someone started using it after the approval.
    w.cloud.resources.lock().unwrap().get_mut("i-busy").unwrap().activity.as_mut().expect("measured").max_cpu_percent =
        Some(63.0);
    w.executor("replica-a", false).run_once(now()).await.unwrap();
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0, "never acted");
    let p = w.only().await;
    assert!(
        matches!(&p.state, State::Aborted { reason } if reason.contains("`idle_instance` rule no longer finds waste")),
        "{p:?}"
    );
    let audit = w.store.audit_entries(0, 50).await.unwrap();
    assert!(audit.iter().any(|e| e.record.action == "execution_aborted" && e.record.detail.contains("idle_instance")));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_approval_past_its_deadline_is_not_executed_and_is_asked_again(pool: sqlx::PgPool) {
    let f = finding(instance("i-late", "running", &[]), "70.08", SafetyPath::Normal);
    let w = world(pool, std::slice::from_ref(&f)).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    let approved = w.only().await;
    assert_eq!(approved.state, State::Approved);
    // No replica got to it (the cloud was unreachable) until after the approval lapsed.
    let later = now() + APPROVAL_HOLDS + Duration::minutes(1);
    assert_eq!(w.executor("replica-a", false).run_once(later).await.unwrap(), 0);
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0, "not executed");
    assert_eq!(w.only().await.state, State::Expired);
    assert!(actions(&w).await.contains(&"approval_expired".to_string()));
    // The next discovery asks again, with no approvals carried over.
    let report = propose(&w.store, &[f], &w.config.approvals.rules(), &w.config.channels, later).await.unwrap();
    assert_eq!(report.reproposed, 1);
    let again = w.only().await;
    assert!(again.state == State::Pending && again.approvals.is_empty(), "{again:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn discovery_withdraws_an_approved_proposal_whose_waste_is_gone_only_where_it_looked(pool: sqlx::PgPool) {
    let f = finding(instance("i-fixed", "running", &[]), "70.08", SafetyPath::Normal);
    let w = world(pool, &[f]).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    let rules = w.config.approvals.rules();
    let account = AccountId::parse("222222222222").unwrap();
    // Its region's discovery failed this time: no finding, but no proof either.
    let elsewhere = [(account.clone(), "eu-west-1".to_string())];
    let report =
        propose_covering(&w.store, &[], Coverage::Only(&elsewhere), &rules, &w.config.channels, now()).await.unwrap();
    assert_eq!((report.withdrawn, w.only().await.state), (0, State::Approved));
    // Its region was searched and the waste is gone (someone stopped it by hand).
    let searched = [(account, "us-east-1".to_string())];
    let report =
        propose_covering(&w.store, &[], Coverage::Only(&searched), &rules, &w.config.channels, now()).await.unwrap();
    assert_eq!((report.withdrawn, w.only().await.state), (1, State::Withdrawn));
    assert!(actions(&w).await.contains(&"proposal_withdrawn".to_string()));
    assert_eq!(w.executor("replica-a", false).run_once(now()).await.unwrap(), 0);
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_dry_run_outcome_is_proposed_again_once_actions_are_real(pool: sqlx::PgPool) {
    let f = finding(instance("i-rehearsed", "running", &[]), "70.08", SafetyPath::Normal);
    let w = world(pool, std::slice::from_ref(&f)).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    assert_eq!(w.executor("replica-a", true).run_once(now()).await.unwrap(), 1);
    assert!(matches!(w.only().await.state, State::Done { dry_run: true, .. }));
    let mut rules = w.config.approvals.rules();
    assert!(rules.dry_run, "dry run is the default");
    let report = propose(&w.store, std::slice::from_ref(&f), &rules, &w.config.channels, now()).await.unwrap();
    assert_eq!(report.reproposed, 0, "while dry runs are on, a dry run stays done");
    rules.dry_run = false;
    let report = propose(&w.store, std::slice::from_ref(&f), &rules, &w.config.channels, now()).await.unwrap();
    assert_eq!(report.reproposed, 1);
    let again = w.only().await;
    assert!(again.state == State::Pending && again.earlier_dry_run, "{again:?}");
    let card = costbot::render::text::plain(&costbot::render::approval::card(&again, now()));
    assert!(card.contains("an earlier approval of this ran as a dry run only"), "{card}");
}
