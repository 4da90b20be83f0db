//! Find it, ask a person, act exactly once, against real parts: EC2 in moto, Postgres, the
//! real bot and execution worker. An instance whose `expires-at` tag is in the past is
//! discovered, proposed, approved by two people (it was launched moments ago, so the safety
//! policy asks for two), and stopped in moto exactly once, however many workers race.

use std::sync::Arc;

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use chrono::Utc;
use costbot::app::App;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::message::{ActionRef, Verb};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::proposal::State;
use costbot::store::PgStore;

use crate::support::Moto;

const PAYER: &str = "123456789012";

pub(crate) fn config(endpoint: &str, dry_run: bool) -> Config {
    let toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [costs]\nbreakdown_every_hours = 0\n[waste]\nregions = [\"us-east-1\"]\n\
         [approvals]\ndry_run = {dry_run}\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"U1\", \"U2\"]\n"
    );
    Config::from_toml(&toml).unwrap()
}

pub(crate) async fn ec2(config: &Config) -> aws_sdk_ec2::Client {
    let base = costbot::aws::base_config(&config.aws).await;
    aws_sdk_ec2::Client::new(&costbot::aws::account_config(&base, &config.accounts[0]).await.unwrap())
}

pub(crate) async fn launch(ec2: &aws_sdk_ec2::Client, tags: &[(&str, &str)]) -> String {
    let spec = tags.iter().fold(TagSpecification::builder().resource_type(ResourceType::Instance), |s, (k, v)| {
        s.tags(Tag::builder().key(*k).value(*v).build())
    });
    let out = ec2
        .run_instances()
        .image_id("ami-03cf127a")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(spec.build())
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

pub(crate) async fn state(ec2: &aws_sdk_ec2::Client, id: &str) -> String {
    let out = ec2.describe_instances().instance_ids(id).send().await.unwrap();
    out.reservations()[0].instances()[0].state().unwrap().name().unwrap().as_str().to_string()
}

async fn approve(app: &App, user: &str, target: &str, version: u32) -> Reply {
    let actor =
        Actor { platform: Platform::Slack, user: UserId(user.into()), roles: vec![], channel: ChannelId("C1".into()) };
    let action = ActionRef { verb: Verb::Approve, target: target.into(), version };
    app.bot
        .handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, Utc::now().naive_utc())
        .await
}

pub(crate) async fn discover_and_approve(app: &App) -> String {
    let now = Utc::now().naive_utc();
    let (report, proposed) = app.discover_and_propose(now).await.unwrap().expect("waste discovery is on");
    assert_eq!(proposed.proposed, 1, "{report:?}");
    let pending = app.store.proposals_in(&["pending"]).await.unwrap();
    let p = &pending[0];
    assert_eq!((p.finding.rule.as_str(), p.required_approvals), ("expired_ttl", 2), "{p:?}");
    assert!(matches!(approve(app, "U1", &p.id.0, 1).await, Reply::UpdateOriginal(_)));
    assert!(matches!(approve(app, "U2", &p.id.0, 2).await, Reply::UpdateOriginal(_)));
    p.finding.resource.reference.id.clone()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_approved_proposal_stops_the_instance_in_moto_exactly_once(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let config = config(&moto.url, false);
    let ec2 = ec2(&config).await;
    let expired = launch(&ec2, &[("expires-at", "2020-01-01"), ("owner", "ana")]).await;
    let protected = launch(&ec2, &[("expires-at", "2020-01-01"), ("Environment", "Production")]).await;
    let app =
        Arc::new(App::with_store(config, Arc::new(PgStore::from_pool(pool)), Utc::now().naive_utc()).await.unwrap());

    assert_eq!(discover_and_approve(&app).await, expired, "the production instance is never proposed");
    let (a, b) = (app.executor("replica-a").unwrap(), app.executor("replica-b").unwrap());
    let now = Utc::now().naive_utc();
    let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
    assert_eq!(ra.unwrap() + rb.unwrap(), 1, "one worker executed it");
    assert!(["stopping", "stopped"].contains(&state(&ec2, &expired).await.as_str()));
    assert_eq!(state(&ec2, &protected).await, "running");
    let done = app.store.proposals_in(&["done"]).await.unwrap();
    assert!(matches!(&done[0].state, State::Done { dry_run: false, .. }), "{:?}", done[0].state);
    let actions: Vec<String> =
        app.store.audit_entries(0, 100).await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "execution_done").count(), 1, "{actions:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn dry_run_is_the_default_and_changes_nothing_in_moto(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let mut config = config(&moto.url, true);
    config.approvals = Config::from_toml("").unwrap().approvals;
    assert!(config.approvals.dry_run, "dry-run unless configured otherwise");
    let ec2 = ec2(&config).await;
    let expired = launch(&ec2, &[("expires-at", "2020-01-01")]).await;
    let app =
        Arc::new(App::with_store(config, Arc::new(PgStore::from_pool(pool)), Utc::now().naive_utc()).await.unwrap());
    discover_and_approve(&app).await;
    app.executor("replica-a").unwrap().run_once(Utc::now().naive_utc()).await.unwrap();
    assert_eq!(state(&ec2, &expired).await, "running");
    let done = app.store.proposals_in(&["done"]).await.unwrap();
    assert!(matches!(&done[0].state, State::Done { dry_run: true, .. }), "{:?}", done[0].state);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_protection_tag_added_after_approval_and_a_crash_are_handled_against_moto(pool: sqlx::PgPool) {
    use costbot::domain::proposal::State as S;
    let moto = Moto::start().await;
    let config = config(&moto.url, false);
    let ec2 = ec2(&config).await;
    let first = launch(&ec2, &[("expires-at", "2020-01-01")]).await;
    let app =
        Arc::new(App::with_store(config, Arc::new(PgStore::from_pool(pool)), Utc::now().naive_utc()).await.unwrap());
    discover_and_approve(&app).await;

    // Someone protects the instance after the approvals: the re-check aborts, nothing stops.
    let tag = Tag::builder().key("Environment").value("Production").build();
    ec2.create_tags().resources(&first).tags(tag).send().await.unwrap();
    app.executor("replica-a").unwrap().run_once(Utc::now().naive_utc()).await.unwrap();
    assert_eq!(state(&ec2, &first).await, "running");
    let aborted = app.store.proposals_in(&["aborted"]).await.unwrap();
    assert!(
        matches!(&aborted[0].state, S::Aborted { reason } if reason.contains("Environment=Production")),
        "{:?}",
        aborted[0].state
    );

    // A worker dies after confirming its claim on an approved proposal (it may have called
    // the cloud): recovery reads moto (still running) and records a failure instead of acting
    // again.
    let second = launch(&ec2, &[("expires-at", "2020-01-01")]).await;
    let now = Utc::now().naive_utc();
    app.discover_and_propose(now).await.unwrap();
    let p = app
        .store
        .proposals_in(&["pending"])
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.finding.resource.reference.id == second)
        .unwrap();
    let one = p.decide("slack:U1", true, costbot::domain::proposal::Decision::Approve, p.version, now).unwrap();
    let two = one.decide("slack:U2", true, costbot::domain::proposal::Decision::Approve, one.version, now).unwrap();
    assert!(
        app.store.save_proposal(&one, p.version).await.unwrap()
            && app.store.save_proposal(&two, one.version).await.unwrap()
    );
    let claimed = two.with_state(
        S::Executing {
            by: "dead".into(),
            token: two.version + 1,
            until: now - chrono::Duration::minutes(1),
            dry_run: false,
            acting: true,
        },
        now,
    );
    assert!(app.store.save_proposal(&claimed, two.version).await.unwrap());
    app.executor("replica-b").unwrap().run_once(Utc::now().naive_utc()).await.unwrap();
    assert_eq!(state(&ec2, &second).await, "running", "recovery never acts");
    let failed = app.store.proposal(&claimed.id).await.unwrap().unwrap();
    assert!(matches!(&failed.state, S::Failed { error } if error.contains("not retried")), "{:?}", failed.state);
}
