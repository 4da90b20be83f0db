//! Off-hours schedules end to end against moto and Postgres (issue 19, item 3): a tagged
//! instance and database are proposed for their schedule, approved, switched on without a
//! cloud call, then stopped and started at each switch exactly once with two replicas, on a
//! controllable clock; a protected tag added mid-schedule skips the next switch, and dry run
//! changes nothing. Daylight-saving cases are the domain's unit tests (`domain::offhours`).

use std::sync::Arc;

use aws_config::Region;
use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use chrono::{NaiveDateTime, Utc};
use costbot::aws::inventory::AwsInventory;
use costbot::config::Config;
use costbot::domain::audit::verify_chain;
use costbot::domain::proposal::{Decision, Proposal, State};
use costbot::domain::resource::{Action, CloudInventory, ResourceKind, ResourceRef};
use costbot::domain::waste::findings;
use costbot::domain::AccountId;
use costbot::execution::Executor;
use costbot::schedules::Switcher;
use costbot::store::{DynStore, PgStore};

use crate::support::Moto;

const PAYER: &str = "123456789012";
const AMI: &str = "ami-03cf127a";
const SCHEDULE: &str = "19:00-07:00 Mon-Fri Europe/Berlin";

fn config(endpoint: &str) -> Config {
    let toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [waste]\nregions = [\"us-east-1\"]\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"UBOSS\", \"UANA\"]\n"
    );
    Config::from_toml(&toml).unwrap()
}

fn t(s: &str) -> NaiveDateTime {
    s.parse().unwrap()
}

async fn state(cloud: &AwsInventory, r: &ResourceRef) -> String {
    cloud.describe(r).await.unwrap().expect("it exists").state
}

fn switcher(
    store: &DynStore,
    cloud: &Arc<AwsInventory>,
    dry_run: bool,
    owner: &str,
) -> Switcher<dyn costbot::store::Store> {
    let config = Config::default();
    let cloud: Arc<dyn CloudInventory> = cloud.clone();
    Switcher::new(
        store.clone(),
        cloud,
        dry_run,
        config.waste.policy.clone(),
        config.waste.rules().offhours_tag,
        owner.into(),
    )
}

/// Both replicas look at `now`; the switches made, as `transition recorded`.
async fn tick(store: &DynStore, cloud: &Arc<AwsInventory>, now: &str) -> Vec<String> {
    let mut made = Vec::new();
    for owner in ["replica-a", "replica-b"] {
        for s in switcher(store, cloud, false, owner).run_once(t(now)).await.unwrap() {
            made.push(format!("{} {}", s.transition, s.recorded));
        }
    }
    made.sort();
    made
}

async fn ask(bot: &costbot::bot::Bot, user: &str, text: &str, now: &str) -> String {
    let actor = costbot::chat::Actor {
        platform: costbot::domain::chat::Platform::Slack,
        user: costbot::domain::chat::UserId(user.into()),
        roles: vec![],
        channel: costbot::domain::chat::ChannelId("C1".into()),
    };
    let asked = costbot::chat::Inbound::Command { actor, text: text.into(), follow_up: costbot::chat::FollowUp::None };
    serde_json::to_string(&bot.handle_at(asked, t(now)).await).unwrap()
}

/// Pausing and resuming commit with their audit records, the same on both stores.
async fn pauses_are_stored_with_their_record(store: DynStore) {
    use costbot::store::SchedulePause;
    let record = |action: &str| costbot::domain::audit::AuditRecord {
        at: t("2026-12-08T19:00:00"),
        actor: "slack:UBOSS".into(),
        action: action.into(),
        target: "p-1".into(),
        channel: Some("C1".into()),
        detail: "{}".into(),
    };
    let pause = SchedulePause {
        schedule: "p-1".into(),
        until: Some(t("2026-12-10T00:00:00")),
        by: "slack:UBOSS".into(),
        at: t("2026-12-08T19:00:00"),
    };
    store.pause_schedule(&pause, &record("offhours_paused")).await.unwrap();
    let again = SchedulePause { until: None, ..pause.clone() };
    store.pause_schedule(&again, &record("offhours_paused")).await.unwrap();
    assert_eq!(
        store.schedule_pauses().await.unwrap(),
        std::slice::from_ref(&again),
        "pausing again replaces the pause"
    );
    assert!(again.holds_at(t("2030-01-01T00:00:00")) && !pause.holds_at(t("2026-12-10T00:00:00")));
    assert!(store.resume_schedule("p-1", &record("offhours_resumed")).await.unwrap().is_some());
    assert!(store.resume_schedule("p-1", &record("offhours_resumed")).await.unwrap().is_none(), "not paused any more");
    assert!(store.schedule_pauses().await.unwrap().is_empty());
    let actions: Vec<String> = store.audit_entries(0, 10).await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert_eq!(
        actions,
        ["offhours_paused", "offhours_paused", "offhours_resumed"],
        "one record per change, none for a no-op"
    );
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn pauses_are_stored_with_their_record_on_postgres(pool: sqlx::PgPool) {
    pauses_are_stored_with_their_record(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn pauses_are_stored_with_their_record_on_sqlite() {
    pauses_are_stored_with_their_record(Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap())).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_schedule_is_approved_once_then_switches_exactly_once_per_transition(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let base = costbot::aws::base_config(&config.aws).await;
    let sdk = base.to_builder().region(Region::new("us-east-1")).build();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("costbot:offhours").value(SCHEDULE).build())
        .build();
    let launched = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tags)
        .send()
        .await
        .unwrap();
    let id = launched.instances()[0].instance_id().unwrap().to_string();
    let rds = aws_sdk_rds::Client::new(&sdk);
    rds.create_db_instance()
        .db_instance_identifier("reports-dev")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("costbot")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .tags(aws_sdk_rds::types::Tag::builder().key("costbot:offhours").value(SCHEDULE).build())
        .send()
        .await
        .unwrap();

    // Discovery proposes each for its schedule, with the share of the week it is off.
    let cloud = Arc::new(AwsInventory::from_config(&config).await.unwrap());
    let now = Utc::now().naive_utc();
    let resources = cloud.discover(&AccountId::parse(PAYER).unwrap(), "us-east-1").await.unwrap();
    let found = findings(&resources, &config.waste.rules(), &config.waste.policy, now);
    let scheduled: Vec<_> = found.iter().filter(|f| f.rule == "offhours").collect();
    assert_eq!(scheduled.len(), 2, "the instance and the database: {found:#?}");
    let instance = scheduled.iter().find(|f| f.resource.reference.kind == ResourceKind::Ec2Instance).unwrap();
    assert_eq!(instance.action, Action::OffHours);
    assert!(instance.evidence.contains("off 108 of 168 hours a week (64 %)"), "{}", instance.evidence);
    let monthly = instance.resource.monthly_cost.unwrap();
    // 108 of 168 hours: the saving is that share of the month's compute, exactly.
    let share = rust_decimal::Decimal::from(108) / rust_decimal::Decimal::from(168);
    assert_eq!(instance.monthly_saving, Some(costbot::domain::Money::from_decimal(monthly.as_decimal() * share)));

    // Approved once, and switched on by the executor without any cloud call.
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    for f in &scheduled {
        let p = Proposal::new((*f).clone(), &config.approvals.rules(), now).unwrap();
        assert!(store.insert_proposal(&p).await.unwrap());
        // Just launched, so the safety policy asks for two approvers.
        assert_eq!(p.required_approvals, 2);
        let once = p.decide("slack:UBOSS", true, Decision::Approve, p.version, now).unwrap();
        let twice = once.decide("slack:UANA", true, Decision::Approve, once.version, now).unwrap();
        assert!(store.save_proposal(&twice, p.version).await.unwrap());
    }
    let channels = Arc::new(config.channels.clone());
    let executor = Executor::new(store.clone(), cloud.clone(), channels, false, "replica-a".into());
    assert_eq!(executor.run_once(now).await.unwrap(), 2);
    for p in store.proposals_in(&["done"]).await.unwrap() {
        assert!(matches!(&p.state, State::Done { outcome, dry_run: false } if outcome.contains("off-hours schedule")));
    }
    let reference = instance.resource.reference.clone();
    assert_eq!(state(&cloud, &reference).await, "running", "approving the schedule switches nothing yet");

    // Friday 19:00:30 in Berlin (18:00:30 UTC): stopped once, though both replicas looked.
    let made = tick(&store, &cloud, "2026-12-04T18:00:30").await;
    assert_eq!(made, ["2026-12-04/stop offhours_switched", "2026-12-04/stop offhours_switched"], "one per resource");
    assert_eq!(state(&cloud, &reference).await, "stopped");
    // The next look, and the whole weekend, switch nothing.
    assert!(tick(&store, &cloud, "2026-12-04T18:05:00").await.is_empty());
    assert!(tick(&store, &cloud, "2026-12-05T12:00:00").await.is_empty());
    // Monday 07:00 in Berlin: started once each.
    let made = tick(&store, &cloud, "2026-12-07T06:01:00").await;
    assert_eq!(made, ["2026-12-07/start offhours_switched", "2026-12-07/start offhours_switched"]);
    assert_eq!(state(&cloud, &reference).await, "running");

    // A protected tag added during the day skips Monday evening's stop, and says why.
    ec2.create_tags()
        .resources(&id)
        .tags(Tag::builder().key("costbot:protect").value("yes").build())
        .send()
        .await
        .unwrap();
    let made = tick(&store, &cloud, "2026-12-07T18:00:30").await;
    assert_eq!(made, ["2026-12-07/stop offhours_skipped", "2026-12-07/stop offhours_switched"], "the database stops");
    assert_eq!(state(&cloud, &reference).await, "running");
    ec2.delete_tags().resources(&id).tags(Tag::builder().key("costbot:protect").build()).send().await.unwrap();
    // Tuesday morning: the database starts; the instance, still running, is left alone.
    let made = tick(&store, &cloud, "2026-12-08T06:00:30").await;
    assert_eq!(made, ["2026-12-08/start offhours_skipped", "2026-12-08/start offhours_switched"]);

    // With dry run on, Tuesday evening's stop is only checked.
    let dry: Vec<_> = switcher(&store, &cloud, true, "replica-a").run_once(t("2026-12-08T18:00:30")).await.unwrap();
    assert!(dry.iter().all(|s| s.recorded == "offhours_dry_run") && dry.len() == 2, "{dry:?}");
    assert_eq!(state(&cloud, &reference).await, "running", "dry run changes nothing");

    // `/cost offhours` lists both schedules with their next switch, from the store.
    let bot = costbot::bot::Bot::new(store.clone(), Arc::new(self::config(&moto.url)));
    let reply = ask(&bot, "UDEV", "offhours", "2026-12-08T12:00:00").await;
    assert!(reply.contains("Off-hours schedules (2)") && reply.contains("stop Tue Dec 8 18:00 UTC"), "{reply}");
    assert!(reply.contains(&id) && reply.contains("reports-dev"), "{reply}");

    // Only an approver pauses a schedule; the refusal is audited. A paused schedule's switch
    // is skipped (and said once); after resuming, the next switch happens again.
    let done = store.proposals_in(&["done"]).await.unwrap();
    let schedule_id = done.into_iter().find(|p| p.finding.resource.reference.id == id).unwrap().id.0;
    let reply = ask(&bot, "UDEV", &format!("offhours pause {schedule_id}"), "2026-12-08T19:00:00").await;
    assert!(reply.contains("Only this channel's approvers can pause"), "{reply}");
    let pause = format!("offhours pause {schedule_id} until 2026-12-10");
    let reply = ask(&bot, "UBOSS", &pause, "2026-12-08T19:00:00").await;
    assert!(reply.contains("paused until 2026-12-10 00:00 UTC"), "{reply}");
    let listed = ask(&bot, "UDEV", "offhours", "2026-12-08T19:05:00").await;
    assert!(listed.contains("paused by slack:UBOSS until 2026-12-10"), "{listed}");
    let made = tick(&store, &cloud, "2026-12-09T06:00:30").await;
    assert_eq!(made, ["2026-12-09/start offhours_skipped", "2026-12-09/start offhours_skipped"], "paused, and running");
    let reply = ask(&bot, "UBOSS", &format!("offhours resume {schedule_id}"), "2026-12-09T12:00:00").await;
    assert!(reply.contains("follows its switches again"), "{reply}");
    let made = tick(&store, &cloud, "2026-12-09T18:00:30").await;
    assert_eq!(made, ["2026-12-09/stop offhours_switched", "2026-12-09/stop offhours_switched"]);
    assert_eq!(state(&cloud, &reference).await, "stopped");

    let audit = store.audit_entries(0, 500).await.unwrap();
    assert_eq!(verify_chain(&audit), Ok(()));
    let recorded = |action: &str| audit.iter().filter(|e| e.record.action == action).count();
    assert_eq!(recorded("offhours_switched"), 8, "each switch recorded once, however many replicas looked");
    assert_eq!(recorded("offhours_skipped"), 4);
    let refused_paused_resumed =
        (recorded("offhours_refused"), recorded("offhours_paused"), recorded("offhours_resumed"));
    assert_eq!(refused_paused_resumed, (1, 1, 1));
    let paused = audit
        .iter()
        .filter(|e| e.record.action == "offhours_skipped" && e.record.detail.contains("paused by slack:UBOSS"));
    assert_eq!(paused.count(), 1, "the paused instance's morning start");
    let skipped = audit.iter().find(|e| e.record.action == "offhours_skipped").unwrap();
    assert!(skipped.record.detail.contains("protected tag costbot:protect=yes"), "{}", skipped.record.detail);
    assert_eq!(recorded("offhours_dry_run"), 2);
    let outcomes = ["offhours_switched", "offhours_skipped", "offhours_dry_run", "offhours_failed"];
    let total: usize = outcomes.iter().map(|a| recorded(a)).sum();
    assert_eq!(recorded("offhours_claimed"), total, "every switch is on the record before the cloud is called");
}
