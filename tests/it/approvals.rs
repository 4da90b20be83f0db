//! Propose → approve → execute, exactly once, on a real Postgres. The cloud is an in-memory
//! `CloudInventory` that counts every action (the AWS implementation is tested against moto
//! in `waste_aws.rs`); the point here is the decision and execution rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, NaiveDateTime, Utc};
use costbot::bot::Bot;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::audit::verify_chain;
use costbot::domain::chat::message::{ActionRef, Verb};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::proposal::{Proposal, State};
use costbot::domain::resource::{
    ActOutcome, Action, Activity, CloudInventory, Resource, ResourceKind, ResourceRef, SafetyPath, WasteFinding,
};
use costbot::domain::{AccountId, Money};
use costbot::execution::Executor;
use costbot::proposals::propose;
use costbot::store::{DynStore, PgStore};

/// An in-memory cloud: resources by id; `act` applies the action and counts calls.
#[derive(Default)]
pub(crate) struct MemCloud {
    pub(crate) resources: Mutex<HashMap<String, Resource>>,
    pub(crate) acts: AtomicUsize,
}

#[async_trait]
impl CloudInventory for MemCloud {
    async fn discover(&self, _: &AccountId, _: &str) -> anyhow::Result<Vec<Resource>> {
        Ok(self.resources.lock().unwrap().values().cloned().collect())
    }
    async fn describe(&self, r: &ResourceRef) -> anyhow::Result<Option<Resource>> {
        Ok(self.resources.lock().unwrap().get(&r.id).cloned())
    }
    async fn act(&self, r: &ResourceRef, action: Action, dry_run: bool) -> anyhow::Result<ActOutcome> {
        self.acts.fetch_add(1, Ordering::SeqCst);
        // Give a racing worker time to try too.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if dry_run {
            return Ok(ActOutcome::DryRun { detail: format!("would {} {}", action.verb(), r.id) });
        }
        let mut all = self.resources.lock().unwrap();
        let resource = all.get_mut(&r.id).ok_or_else(|| anyhow::anyhow!("gone"))?;
        resource.state = "stopping".into();
        Ok(ActOutcome::Done { new_state: "stopping".into() })
    }
}

pub(crate) const CHANNELS: &str =
    "[[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"UBOSS\", \"UCFO\"]\n\
                        [[channels]]\nplatform = \"slack\"\nid = \"CVIEW\"\n";

pub(crate) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

pub(crate) fn instance(id: &str, state: &str, tags: &[(&str, &str)]) -> Resource {
    Resource {
        reference: ResourceRef {
            account: AccountId::parse("222222222222").unwrap(),
            region: "us-east-1".into(),
            kind: ResourceKind::Ec2Instance,
            id: id.into(),
        },
        state: state.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        // Launched a month ago and measured idle since, so the `idle_instance` rule finds it
        // again when the executor re-runs it.
        created_at: Some(now() - Duration::days(30)),
        state_since: None,
        size_class: Some("m5.large".into()),
        storage_gib: None,
        monthly_cost: Some(Money::parse("70.08").unwrap()),
        dependencies: vec![],
        activity: Some(Activity {
            days: 14,
            max_cpu_percent: Some(1.0),
            network_bytes: Some(1000),
            max_db_connections: None,
            ..Activity::default()
        }),
    }
}

pub(crate) fn finding(resource: Resource, saving: &str, path: SafetyPath) -> WasteFinding {
    WasteFinding {
        resource,
        rule: "idle_instance".into(),
        evidence: "CPU under 2 % for 14 days".into(),
        monthly_saving: Some(Money::parse(saving).unwrap()),
        action: Action::StopInstance,
        path,
    }
}

pub(crate) struct World {
    pub(crate) store: DynStore,
    pub(crate) cloud: Arc<MemCloud>,
    pub(crate) bot: Bot,
    pub(crate) config: Arc<Config>,
}

pub(crate) async fn world(pool: sqlx::PgPool, findings: &[WasteFinding]) -> World {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let cloud = Arc::new(MemCloud::default());
    for f in findings {
        cloud.resources.lock().unwrap().insert(f.resource.reference.id.clone(), f.resource.clone());
    }
    let config = Arc::new(Config::from_toml(CHANNELS).unwrap());
    propose(&store, findings, &config.approvals.rules(), &config.channels, now()).await.unwrap();
    World { bot: Bot::new(store.clone(), config.clone()), store, cloud, config }
}

impl World {
    pub(crate) fn executor(&self, owner: &str, dry_run: bool) -> Executor {
        Executor::new(
            self.store.clone(),
            self.cloud.clone(),
            Arc::new(Config::from_toml(CHANNELS).unwrap().channels),
            dry_run,
            owner.into(),
        )
    }
    pub(crate) async fn only(&self) -> Proposal {
        let all = self.store.proposals_in(&[]).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.into_iter().next().unwrap()
    }
    pub(crate) async fn click(&self, user: &str, channel: &str, verb: Verb, version: u32) -> Reply {
        let p = self.only().await;
        let actor = Actor {
            platform: Platform::Slack,
            user: UserId(user.into()),
            roles: vec![],
            channel: ChannelId(channel.into()),
        };
        let action = ActionRef { verb, target: p.id.0.clone(), version };
        self.bot.handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, now()).await
    }
}

/// The claim of a worker that confirmed it (so it may have called the cloud), acting for
/// real, and died: its deadline has passed.
fn dead_claim(approved: &Proposal) -> State {
    State::Executing {
        by: "dead-replica".into(),
        token: approved.version + 1,
        until: now() - Duration::minutes(1),
        dry_run: false,
        acting: true,
    }
}

pub(crate) fn text(reply: &Reply) -> String {
    serde_json::to_string(reply).unwrap()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn proposals_are_made_once_and_carded_only_where_someone_can_approve(pool: sqlx::PgPool) {
    let protected = finding(
        instance("i-prod", "running", &[("Environment", "Production")]),
        "70",
        SafetyPath::Excluded { reason: "Environment=Production".into() },
    );
    let idle = finding(instance("i-idle", "running", &[]), "70.08", SafetyPath::Normal);
    let w = world(pool, &[protected.clone(), idle.clone()]).await;
    let report =
        propose(&w.store, &[protected, idle], &w.config.approvals.rules(), &w.config.channels, now()).await.unwrap();
    assert_eq!(report.proposed, 0, "the second run proposes nothing new");
    let p = w.only().await;
    assert_eq!((p.finding.resource.reference.id.as_str(), p.state.clone()), ("i-idle", State::Pending));
    let counts = w.store.outbox_counts().await.unwrap();
    assert_eq!(counts.pending, 1, "one card, in the channel with approvers, not in the view-only one");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn refusals_change_nothing_but_are_audited(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-1", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    assert!(text(&w.click("UINTERN", "C1", Verb::Approve, 1).await).contains("not an approver"));
    assert!(
        text(&w.click("UBOSS", "CVIEW", Verb::Approve, 1).await).contains("not an approver"),
        "not an approver there"
    );
    assert!(text(&w.click("UBOSS", "C1", Verb::Approve, 7).await).contains("out of date"));
    assert_eq!(w.only().await.state, State::Pending);
    // A day later the proposal has expired: the worker marks it so, and a click is refused.
    w.executor("replica-a", true).run_once(now() + Duration::hours(25)).await.unwrap();
    assert_eq!(w.only().await.state, State::Expired);
    assert!(text(&w.click("UBOSS", "C1", Verb::Approve, 2).await).contains("already expired"));
    let audit = w.store.audit_entries(0, 50).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.record.action == "decision_refused").count(), 4);
    assert!(audit.iter().any(|e| e.record.action == "proposal_expired"));
    assert_eq!(verify_chain(&audit), Ok(()));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_approved_proposal_is_executed_once_however_often_it_is_clicked(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-2", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    // A double click (and a Slack retry) arrive together.
    let (a, b) = tokio::join!(w.click("UBOSS", "C1", Verb::Approve, 1), w.click("UBOSS", "C1", Verb::Approve, 1));
    let updated = [&a, &b].iter().filter(|r| matches!(r, Reply::UpdateOriginal(_))).count();
    assert_eq!(updated, 1, "{a:?} {b:?}");
    assert_eq!(w.only().await.state, State::Approved);
    // Two workers (two replicas) race for it.
    let (x, y) = (w.executor("replica-a", true), w.executor("replica-b", true));
    let (rx, ry) = tokio::join!(x.run_once(now()), y.run_once(now()));
    assert_eq!(rx.unwrap() + ry.unwrap(), 1);
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 1, "acted exactly once");
    let done = w.only().await;
    assert!(
        matches!(&done.state, State::Done { dry_run: true, outcome } if outcome.contains("would stop i-2")),
        "{done:?}"
    );
    assert_eq!(w.executor("replica-c", true).run_once(now()).await.unwrap(), 0, "nothing left to do");
    let actions: Vec<String> =
        w.store.audit_entries(0, 50).await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert!(
        actions.contains(&"proposal_approved".to_string()) && actions.contains(&"execution_done".to_string()),
        "{actions:?}"
    );
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn costly_proposals_need_two_different_approvers(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-3", "running", &[]), "900", SafetyPath::Normal)]).await;
    assert!(matches!(w.click("UBOSS", "C1", Verb::Approve, 1).await, Reply::UpdateOriginal(_)));
    assert!(text(&w.click("UBOSS", "C1", Verb::Approve, 2).await).contains("second, different approver"));
    assert_eq!(w.only().await.state, State::Pending);
    assert!(matches!(w.click("UCFO", "C1", Verb::Approve, 2).await, Reply::UpdateOriginal(_)));
    assert_eq!(w.only().await.state, State::Approved);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_protection_tag_added_after_approval_aborts_the_action(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-4", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    w.cloud.resources.lock().unwrap().get_mut("i-4").unwrap().tags.insert("Environment".into(), "Production".into());
    w.executor("replica-a", false).run_once(now()).await.unwrap();
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0, "never acted");
    let p = w.only().await;
    assert!(matches!(&p.state, State::Aborted { reason } if reason.contains("Environment=Production")), "{p:?}");
    let audit = w.store.audit_entries(0, 50).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.record.action == "execution_aborted" && e.record.detail.contains("Environment=Production")));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_crash_mid_execution_is_recovered_from_the_real_state_without_acting_again(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-5", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    w.click("UBOSS", "C1", Verb::Approve, 1).await;
    // A worker confirmed its claim (it may have acted) and died before recording anything:
    // its lease ran out.
    let approved = w.only().await;
    let claimed = approved.with_state(dead_claim(&approved), now());
    assert!(w.store.save_proposal(&claimed, approved.version).await.unwrap());
    w.executor("replica-b", false).run_once(now()).await.unwrap();
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0, "recovery never acts");
    let p = w.only().await;
    assert!(matches!(&p.state, State::Failed { error } if error.contains("not retried automatically")), "{p:?}");

    // Had the dead worker's stop gone through, recovery records it as done.
    let w2_pool = w.store.clone();
    let again = finding(instance("i-6", "running", &[]), "70.08", SafetyPath::Normal);
    w.cloud.resources.lock().unwrap().insert("i-6".into(), again.resource.clone());
    propose(&w2_pool, &[again], &w.config.approvals.rules(), &w.config.channels, now()).await.unwrap();
    let p6 = w.store.proposals_in(&["pending"]).await.unwrap().remove(0);
    let approved =
        p6.decide("slack:UBOSS", true, costbot::domain::proposal::Decision::Approve, p6.version, now()).unwrap();
    assert!(w.store.save_proposal(&approved, p6.version).await.unwrap());
    let claimed = approved.with_state(dead_claim(&approved), now());
    assert!(w.store.save_proposal(&claimed, approved.version).await.unwrap());
    w.cloud.resources.lock().unwrap().get_mut("i-6").unwrap().state = "stopped".into();
    w.executor("replica-b", false).run_once(now()).await.unwrap();
    let p6 = w.store.proposal(&claimed.id).await.unwrap().unwrap();
    assert!(matches!(&p6.state, State::Done { dry_run: false, outcome } if outcome.contains("stopped")), "{p6:?}");
    assert_eq!(w.cloud.acts.load(Ordering::SeqCst), 0);
}
