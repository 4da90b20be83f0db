//! "Nothing is acted on twice or without a record", under slow, stalled and racing replicas,
//! on a real Postgres. Faults come only from the `CloudInventory` test double in `faults.rs`:
//! it stalls a replica's thread (as a paused or overloaded process would, so no timeout inside
//! it can fire), answers slowly, or fails for one resource.
//!
//! A stalled replica runs on its own thread with its own runtime and connection pool, like a
//! second process; the healthy replica runs on the test's runtime.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use costbot::domain::audit::verify_chain;
use costbot::domain::chat::message::Verb;
use costbot::domain::proposal::{Proposal, State};
use costbot::domain::resource::{CloudInventory, SafetyPath};
use costbot::execution::{Executor, Timing};
use costbot::store::{DynStore, NewProposal, PgStore, ProposalChange, ProposalStore};

use crate::approvals::{finding, instance, now, world, World, CHANNELS};
use crate::faults::{stall, Faulty};

/// A short lease, so a test can wait past a deadline: the timeouts inside it are 0.5 s.
const LEASE: Duration = Duration::seconds(2);

fn executor(store: DynStore, cloud: Arc<dyn CloudInventory>, owner: &str) -> Executor {
    let channels = Arc::new(costbot::config::Config::from_toml(CHANNELS).unwrap().channels);
    Executor::new(store, cloud, channels, false, owner.into()).with_timing(Timing::for_lease(LEASE))
}

/// Runs one pass of a replica whose cloud stalls, on its own thread, runtime and pool.
fn stalled_replica(pool: &sqlx::PgPool, cloud: Arc<dyn CloudInventory>) -> std::thread::JoinHandle<usize> {
    let options = (*pool.connect_options()).clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
            let store: DynStore = Arc::new(PgStore::from_pool(pool));
            executor(store, cloud, "replica-a").run_once(now()).await.unwrap()
        })
    })
}

async fn approved_world(pool: sqlx::PgPool, id: &str) -> World {
    let w = world(pool, &[finding(instance(id, "running", &[]), "70.08", SafetyPath::Normal)]).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    assert_eq!(w.only().await.state, State::Approved);
    w
}

async fn actions(w: &World) -> Vec<String> {
    let audit = w.store.audit_entries(0, 200).await.unwrap();
    assert_eq!(verify_chain(&audit), Ok(()));
    audit.into_iter().map(|e| e.record.action).collect()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

/// The text of the newest card for a proposal, as the outbox would send it.
async fn newest_card(w: &World, p: &Proposal) -> String {
    let delivery = w.store.claim_delivery(now() + Duration::days(1), Duration::seconds(60)).await.unwrap();
    let delivery = delivery.expect("a card is waiting");
    assert_eq!(delivery.thread, p.id.0);
    costbot::render::text::plain(&delivery.message)
}

/// One call to the cloud, one `execution_done`, one `also` in an intact audit chain; returns
/// the proposal.
async fn acted_once_and_recorded_once(w: &World, also: &str) -> Proposal {
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 1, "one action");
    let actions = actions(w).await;
    assert_eq!(count(&actions, "execution_done"), 1, "{actions:?}");
    assert_eq!(count(&actions, also), 1, "{actions:?}");
    w.only().await
}

/// Waits until the claim's deadline has passed by the database's clock (plus a margin).
async fn past_deadline() {
    tokio::time::sleep((LEASE + Duration::milliseconds(400)).to_std().unwrap()).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_replica_stalled_in_describe_past_its_deadline_never_acts(pool: sqlx::PgPool) {
    let w = approved_world(pool.clone(), "i-slow-describe").await;
    let a =
        stalled_replica(&pool, Arc::new(Faulty::new(w.cloud.clone()).after_describe(stall(StdDuration::from_secs(3)))));
    // Replica A has claimed it and is stuck; wait for the claim, then for its deadline.
    while !matches!(w.only().await.state, State::Executing { .. }) {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    past_deadline().await;
    let b = executor(w.store.clone(), w.cloud.clone(), "replica-b");
    assert_eq!(b.run_once(now()).await.unwrap(), 0, "recovery hands the untouched claim back");
    assert_eq!(w.only().await.state, State::Approved);
    assert_eq!(b.run_once(now()).await.unwrap(), 1, "and replica B executes it");
    assert_eq!(tokio::task::spawn_blocking(move || a.join().unwrap()).await.unwrap(), 0, "A finished nothing");

    let done = acted_once_and_recorded_once(&w, "execution_released").await;
    assert!(matches!(&done.state, State::Done { dry_run: false, .. }), "{done:?}");
    assert!(newest_card(&w, &done).await.contains("Done: i-slow-describe is now stopping"));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_replica_stalled_after_acting_is_recorded_once_by_recovery(pool: sqlx::PgPool) {
    let w = approved_world(pool.clone(), "i-slow-act").await;
    let a = stalled_replica(&pool, Arc::new(Faulty::new(w.cloud.clone()).after_act(stall(StdDuration::from_secs(3)))));
    while w.cloud.acts.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    past_deadline().await;
    let b = executor(w.store.clone(), w.cloud.clone(), "replica-b");
    assert_eq!(b.run_once(now()).await.unwrap(), 1, "recovery records it from the resource's state");
    assert_eq!(tokio::task::spawn_blocking(move || a.join().unwrap()).await.unwrap(), 0, "A's finish lost");

    // A's own result is on record too, as a late one.
    let done = acted_once_and_recorded_once(&w, "execution_result_late").await;
    assert!(
        matches!(&done.state, State::Done { dry_run: false, outcome } if outcome.contains("the resource is stopping")),
        "{done:?}"
    );
    assert!(newest_card(&w, &done).await.contains("completed before an interruption"));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_describe_slower_than_its_timeout_hands_the_claim_back(pool: sqlx::PgPool) {
    let w = approved_world(pool, "i-timeout").await;
    // Unlike a stall, a slow answer lets the timeout fire: the worker gives up well before
    // its deadline and nothing is done.
    let cloud = Faulty::new(w.cloud.clone()).slow_describe(StdDuration::from_secs(5));
    let started = std::time::Instant::now();
    let slow = executor(w.store.clone(), Arc::new(cloud), "replica-a");
    assert_eq!(slow.run_once(now()).await.unwrap(), 0);
    assert!(started.elapsed() < LEASE.to_std().unwrap(), "gave up inside the lease");
    assert_eq!(w.only().await.state, State::Approved, "handed back, not stuck");
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0);
    let actions = actions(&w).await;
    assert_eq!(count(&actions, "execution_deferred"), 1, "{actions:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn one_undescribable_claim_and_one_unreadable_row_do_not_stop_three_good_ones(pool: sqlx::PgPool) {
    let ids = ["i-good-1", "i-good-2", "i-good-3", "i-role-gone"];
    let findings: Vec<_> =
        ids.iter().map(|id| finding(instance(id, "running", &[]), "70.08", SafetyPath::Normal)).collect();
    let w = world(pool.clone(), &findings).await;
    for p in w.store.proposals_in(&["pending"]).await.unwrap() {
        let approved = p.decide("slack:UBOSS", true, costbot::domain::proposal::Decision::Approve, 1, now()).unwrap();
        assert!(w.store.save_proposal(&approved, p.version).await.unwrap());
        if approved.finding.resource.reference.id == "i-role-gone" {
            // Its worker died mid-action long ago; recovery must describe it, and cannot.
            let state = State::Executing {
                by: "dead".into(),
                token: approved.version + 1,
                until: now() - Duration::hours(1),
                dry_run: false,
                acting: true,
            };
            assert!(w.store.save_proposal(&approved.with_state(state, now()), approved.version).await.unwrap());
        }
    }
    // A row nobody can read (written by a newer costbot, say).
    sqlx::query(
        "INSERT INTO proposals (id, version, state, account_id, resource_id, record, updated_at)
         VALUES ('pr-unreadable', 2, 'approved', '222222222222', 'i-x', '{\"v\":99}', $1)",
    )
    .bind(now() - Duration::hours(2))
    .execute(&pool)
    .await
    .unwrap();
    let before = scrape_errors().await;

    let cloud = Arc::new(Faulty::new(w.cloud.clone()).after_describe(|r| match r.id.as_str() {
        "i-role-gone" => anyhow::bail!("AccessDenied: not authorized to perform sts:AssumeRole"),
        _ => Ok(()),
    }));
    let finished = executor(w.store.clone(), cloud, "replica-a").run_once(now()).await.unwrap();
    assert_eq!(finished, 3, "the three good ones execute");
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 3);
    assert_eq!(w.store.proposals_in(&["done"]).await.unwrap().len(), 3);
    assert_eq!(w.store.proposals_in(&["executing"]).await.unwrap().len(), 1, "the broken one waits, untouched");
    let after = scrape_errors().await;
    assert!(after.0 > before.0 && after.1 > before.1, "counted in /metrics: {before:?} → {after:?}");

    // The proposer carries on past the unreadable row too.
    let report =
        costbot::proposals::propose(&w.store, &findings, &w.config.approvals.rules(), &w.config.channels, now())
            .await
            .unwrap();
    assert_eq!(report.proposed, 0);
}

/// `costbot_proposal_errors` for the `unreadable` and `recover` stages, from `/metrics`.
async fn scrape_errors() -> (u64, u64) {
    let store = costbot::store::SqliteStore::in_memory().await.unwrap();
    let text = costbot::metrics::render(&store).await;
    let read = |stage: &str| {
        text.lines()
            .find(|l| l.starts_with("costbot_proposal_errors_total") && l.contains(&format!("stage=\"{stage}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {stage} series in {text}"))
    };
    (read("unreadable"), read("recover"))
}

/// The audit log's storage fails for appends (as a full disk or a revoked privilege would);
/// the fault is in the database, so it strikes inside the change's own transaction. Dropping
/// the `fail_audit` trigger ends it.
async fn fail_audit_appends(pool: &sqlx::PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION fail_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit storage failing'; END; $$
         LANGUAGE plpgsql;
         CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_audit();",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_failing_audit_append_leaves_a_new_proposal_unstored(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    let config = costbot::config::Config::from_toml(CHANNELS).unwrap();
    let findings = [finding(instance("i-unrecorded", "running", &[]), "70.08", SafetyPath::Normal)];
    let rules = config.approvals.rules();
    let propose = || costbot::proposals::propose(&store, &findings, &rules, &config.channels, now());
    fail_audit_appends(&pool).await;
    assert_eq!(propose().await.unwrap().proposed, 0, "counted as failed, not proposed");
    assert!(store.proposals_in(&[]).await.unwrap().is_empty(), "no proposal without its record");
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0, "and no card");

    sqlx::raw_sql("DROP TRIGGER fail_audit ON audit_log").execute(&pool).await.unwrap();
    assert_eq!(propose().await.unwrap().proposed, 1, "the next discovery proposes it");
    let audit = store.audit_entries(0, 10).await.unwrap();
    assert_eq!(audit.iter().map(|e| e.record.action.as_str()).collect::<Vec<_>>(), ["proposal_created"]);
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1, "its card");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_failing_audit_append_leaves_the_decision_unsaved(pool: sqlx::PgPool) {
    let w =
        world(pool.clone(), &[finding(instance("i-unrecorded", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    let cards = w.store.outbox_counts().await.unwrap();
    fail_audit_appends(&pool).await;
    let reply = w.click("UBOSS", "C1", Verb::Approve, 1).await;
    assert!(crate::approvals::text(&reply).contains("something went wrong"), "{reply:?}");
    let p = w.only().await;
    assert_eq!((p.state.clone(), p.version), (State::Pending, 1), "the approval was not saved either");
    assert_eq!(w.store.outbox_counts().await.unwrap(), cards, "and no card went out for it");

    sqlx::raw_sql("DROP TRIGGER fail_audit ON audit_log").execute(&pool).await.unwrap();
    assert_eq!(executor(w.store.clone(), w.cloud.clone(), "replica-a").run_once(now()).await.unwrap(), 0);
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0, "nothing to act on");
}

#[tokio::test]
async fn on_sqlite_a_change_whose_audit_fails_is_not_written() {
    let store = costbot::store::SqliteStore::in_memory().await.unwrap();
    let p = Proposal::new(
        finding(instance("i-1", "running", &[]), "70.08", SafetyPath::Normal),
        &costbot::config::Config::from_toml(CHANNELS).unwrap().approvals.rules(),
        now(),
    )
    .unwrap();
    assert!(store.insert_proposal(&p).await.unwrap());
    sqlx::raw_sql(
        "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit storage failing'); END",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let next = p.with_state(State::Withdrawn, now());
    let audit = test_record("proposal_withdrawn", &p);
    let change =
        ProposalChange { next: &next, from_version: p.version, audit: audit.clone(), cards: vec![], now: now() };
    assert!(store.change_proposal(&change).await.is_err());
    assert_eq!(store.proposal(&p.id).await.unwrap().unwrap(), p, "rolled back with its audit record");

    let other = Proposal::new(
        finding(instance("i-2", "running", &[]), "70.08", SafetyPath::Normal),
        &costbot::config::Config::from_toml(CHANNELS).unwrap().approvals.rules(),
        now(),
    )
    .unwrap();
    let new = NewProposal { proposal: &other, audit, cards: vec![], now: now() };
    assert!(store.create_proposal(&new).await.is_err());
    assert_eq!(store.proposal(&other.id).await.unwrap(), None, "a new proposal rolls back with its record too");
}

/// An audit record of `action` on `p` by the test itself.
fn test_record(action: &str, p: &Proposal) -> costbot::domain::audit::AuditRecord {
    costbot::domain::audit::AuditRecord {
        at: now(),
        actor: "system:test".into(),
        action: action.into(),
        target: p.id.0.clone(),
        channel: None,
        detail: "{}".into(),
    }
}

/// A new proposal and its record, on both stores.
mod creation {
    use costbot::domain::resource::SafetyPath;
    use costbot::store::{DynStore, NewProposal};

    use crate::approvals::{finding, instance, now, CHANNELS};

    crate::store_contract::contract!(a_new_proposal_commits_with_its_audit_record_and_cards_once);

    async fn a_new_proposal_commits_with_its_audit_record_and_cards_once(store: DynStore) {
        let config = costbot::config::Config::from_toml(CHANNELS).unwrap();
        let found = finding(instance("i-new", "running", &[]), "70.08", SafetyPath::Normal);
        let p = costbot::domain::proposal::Proposal::new(found, &config.approvals.rules(), now()).unwrap();
        let audit = super::test_record("proposal_created", &p);
        let cards = costbot::proposals::card_entries(&p, &config.channels, now());
        assert_eq!(cards.len(), 1);
        let new = NewProposal { proposal: &p, audit, cards, now: now() };
        let entry = store.create_proposal(&new).await.unwrap().expect("new");
        assert_eq!(entry.seq, 1);
        assert_eq!(store.proposal(&p.id).await.unwrap(), Some(p.clone()));
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
        // The same proposal again (another replica's discovery) writes nothing, no record either.
        assert!(store.create_proposal(&new).await.unwrap().is_none());
        assert_eq!(store.audit_entries(0, 10).await.unwrap().len(), 1);
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
    }
}
