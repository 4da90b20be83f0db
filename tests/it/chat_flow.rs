//! The platform-neutral chat flow against a real Postgres: alert events → outbox → a
//! recording sender; the bot's commands and clicks; the audit log's guarantees.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, NaiveDateTime, Utc};
use costbot::bot::Bot;
use costbot::chat::dispatch::dispatch_alerts;
use costbot::chat::outbox::{OutboxWorker, LEASE};
use costbot::chat::{Actor, ChatHandler, FollowUp, Inbound, Reply, SendError, Sender};
use costbot::config::Config;
use costbot::domain::anomaly::{Finding, Kind, Severity};
use costbot::domain::audit::verify_chain;
use costbot::domain::chat::message::{ActionRef, Message, Verb};
use costbot::domain::chat::{ChannelId, MessageRef, Platform, UserId};
use costbot::domain::incident::{reconcile, Scope, SeriesKey};
use costbot::domain::outbox::{DeliveryOutcome, OutboxEntry};
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, PgStore};
use rust_decimal::Decimal;

/// Records what would have been posted; can be told to fail the next calls.
#[derive(Default)]
struct Recorder {
    posts: Mutex<Vec<(String, Message)>>,
    updates: Mutex<Vec<(String, Message)>>,
    fail_next: Mutex<Vec<SendError>>,
}

#[async_trait]
impl Sender for Recorder {
    async fn post(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        if let Some(error) = self.fail_next.lock().unwrap().pop() {
            return Err(error);
        }
        let mut posts = self.posts.lock().unwrap();
        posts.push((channel.0.clone(), message.clone()));
        Ok(MessageRef { channel: channel.clone(), id: format!("ts-{}", posts.len()) })
    }
    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), SendError> {
        self.updates.lock().unwrap().push((at.id.clone(), message.clone()));
        Ok(())
    }
    async fn follow_up(&self, _to: &FollowUp, _reply: &Reply) -> Result<(), SendError> {
        Ok(())
    }
}

fn worker(store: &DynStore, recorder: &Arc<Recorder>) -> OutboxWorker {
    let sender: Arc<dyn Sender> = recorder.clone();
    OutboxWorker::new(store.clone(), HashMap::from([(Platform::Slack, sender)]))
}

fn entry(thread: &str, version: u32, text: &str) -> OutboxEntry {
    OutboxEntry {
        platform: Platform::Slack,
        channel: ChannelId("C1".into()),
        thread: thread.into(),
        message: Message::plain(text),
        dedupe_key: format!("{thread}:v{version}"),
    }
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_outbox_retries_edits_in_place_and_sends_only_the_newest_content(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let recorder = Arc::new(Recorder::default());
    recorder.fail_next.lock().unwrap().push(SendError::Retryable { reason: "ratelimited".into(), after: None });
    store.enqueue(&[entry("an-1", 1, "v1")], now()).await.unwrap();
    assert_eq!(store.enqueue(&[entry("an-1", 1, "v1")], now()).await.unwrap(), 0, "deduplicated");

    worker(&store, &recorder).drain().await.unwrap();
    assert!(recorder.posts.lock().unwrap().is_empty(), "429: nothing posted yet");
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1, "kept, not lost");
    // The retry is due after the backoff; claim as if that time had come.
    let later = now() + Duration::seconds(6);
    let delivery = store.claim_delivery(later, LEASE).await.unwrap().expect("due again");
    assert_eq!((delivery.attempts, delivery.posted.clone()), (1, None));
    store.finish_delivery(&delivery, &DeliveryOutcome::Sent { message_id: "ts-9".into() }, later).await.unwrap();

    // Two newer versions arrive before the next drain: only the newest is sent, as an edit.
    store.enqueue(&[entry("an-1", 2, "v2"), entry("an-1", 3, "v3")], now()).await.unwrap();
    worker(&store, &recorder).drain().await.unwrap();
    let updates = recorder.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1);
    assert_eq!((updates[0].0.as_str(), updates[0].1.fallback.as_str()), ("ts-9", "v3"));
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.superseded), (0, 2, 1));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn two_workers_post_a_thread_once_and_a_crash_mid_delivery_is_recovered(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    store.enqueue(&[entry("an-2", 1, "hello")], now()).await.unwrap();
    // Thread leases run on the database's clock, so the test waits for a short one to pass
    // rather than passing a later time.
    let (t, lease) = (now(), Duration::seconds(1));
    let first = store.claim_delivery(t, lease).await.unwrap();
    let second = store.claim_delivery(t, lease).await.unwrap();
    assert!(first.is_some() && second.is_none(), "the thread is leased to one worker");
    // The first worker dies without finishing. After the lease, another worker takes over.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(store.claim_delivery(now(), lease).await.unwrap().is_none());
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let recovered = store.claim_delivery(now(), LEASE).await.unwrap();
    assert_eq!(recovered.as_ref().map(|d| d.id), first.map(|d| d.id));
    assert!(recovered.is_some_and(|d| d.maybe_posted), "the first worker may have posted; the next one looks first");

    // Racing drains on two replicas: exactly one post.
    store.enqueue(&[entry("an-3", 1, "race")], now()).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let (a, b) = (worker(&store, &recorder), worker(&store, &recorder));
    let _ = tokio::join!(a.drain(), b.drain());
    let posts = recorder.posts.lock().unwrap();
    assert_eq!(posts.iter().filter(|(_, m)| m.fallback == "race").count(), 1);
}

fn spike(impact: i64, severity: Severity) -> Finding {
    let at: NaiveDateTime = "2026-11-20T00:00:00".parse().unwrap();
    Finding {
        start: at,
        end: at,
        ongoing: true,
        expected: Decimal::from(100),
        actual: Decimal::from(100 + impact),
        impact: Decimal::from(impact),
        percent: Decimal::from(impact),
        score: 12.0,
        severity,
        kind: Kind::Spike,
        provisional: false,
        points: 1,
    }
}

fn service_key(account: &str) -> SeriesKey {
    SeriesKey {
        granularity: Granularity::Daily,
        scope: Scope::Service {
            account: AccountId::parse(account).unwrap(),
            service: ServiceName::parse("AWS Lambda").unwrap(),
        },
    }
}

const CHANNELS: &str = r#"
[[channels]]
platform = "slack"
id = "CALL"
approvers = ["UBOSS"]

[[channels]]
platform = "slack"
id = "CTEAM"
accounts = ["222222222222"]

[[channels]]
platform = "slack"
id = "CCRIT"
min_severity = "critical"
"#;

#[sqlx::test(migrations = "migrations/postgres")]
async fn alerts_go_to_the_channels_that_may_see_them_once_per_version(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let config = Config::from_toml(CHANNELS).unwrap();
    let findings = vec![
        (service_key("111111111111"), spike(300, Severity::High)),
        (service_key("222222222222"), spike(900, Severity::Critical)),
    ];
    store.apply_anomaly_changes(&reconcile(&[], &findings, now()), now()).await.unwrap();

    assert_eq!(dispatch_alerts(&store, &config.channels, now()).await.unwrap(), 4);
    assert_eq!(dispatch_alerts(&store, &config.channels, now()).await.unwrap(), 0, "the cursor moved past them");
    let recorder = Arc::new(Recorder::default());
    worker(&store, &recorder).drain().await.unwrap();
    let mut got: Vec<(String, bool)> =
        recorder.posts.lock().unwrap().iter().map(|(c, m)| (c.clone(), m.fallback.contains("222222222222"))).collect();
    got.sort();
    // CALL sees both; CTEAM only its account; CCRIT only the critical one.
    assert_eq!(
        got,
        vec![("CALL".into(), false), ("CALL".into(), true), ("CCRIT".into(), true), ("CTEAM".into(), true)]
    );
}

fn actor(user: &str, channel: &str) -> Actor {
    Actor { platform: Platform::Slack, user: UserId(user.into()), roles: vec![], channel: ChannelId(channel.into()) }
}

fn command(user: &str, channel: &str, text: &str) -> Inbound {
    Inbound::Command { actor: actor(user, channel), text: text.into(), follow_up: FollowUp::None }
}

fn click(user: &str, channel: &str, verb: Verb, target: &str) -> Inbound {
    Inbound::Click {
        actor: actor(user, channel),
        action: ActionRef { verb, target: target.into(), version: 1 },
        message: None,
        follow_up: FollowUp::None,
    }
}

fn text_of(reply: &Reply) -> String {
    serde_json::to_string(reply).unwrap()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_bot_answers_from_the_store_scoped_to_the_channel(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let today = now().date();
    let first = chrono::Datelike::with_day(&today, 1).unwrap();
    let fact = |account: &str, service: &str, amount: &str| CostFact {
        granularity: Granularity::Daily,
        period_start: first.and_hms_opt(0, 0, 0).unwrap(),
        account: AccountId::parse(account).unwrap(),
        service: ServiceName::parse(service).unwrap(),
        amount: Money::parse(amount).unwrap(),
        unit: "USD".into(),
        estimated: false,
    };
    let facts = vec![
        fact("111111111111", "AWS Lambda", "10.005"),
        fact("222222222222", "AWS Lambda", "0.01"),
        fact("222222222222", "Amazon S3", "5"),
    ];
    let range = DateRange::new(first, today + chrono::Days::new(1)).unwrap();
    store
        .replace_cost_facts(&AccountId::parse("111111111111").unwrap(), Granularity::Daily, &range, &facts, now())
        .await
        .unwrap();
    let bot = Bot::new(store.clone(), Arc::new(Config::from_toml(CHANNELS).unwrap()));

    let all = text_of(&bot.handle(command("U1", "CALL", "by service")).await);
    assert!(all.contains("$15.02") && all.contains("$10.02"), "exact sums, rounded once for display: {all}");
    let team = text_of(&bot.handle(command("U1", "CTEAM", "mtd by service")).await);
    assert!(team.contains("$5.01") && !team.contains("$10.02"), "a scoped channel sees only its account: {team}");
    let unknown = text_of(&bot.handle(command("U1", "CRANDOM", "")).await);
    assert!(unknown.contains("not set up"), "{unknown}");
    let typo = bot.handle(command("U1", "CALL", "anomolies")).await;
    assert!(matches!(&typo, Reply::Ephemeral(_)) && text_of(&typo).contains("did you mean `anomalies`"), "{typo:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn clicks_are_checked_audited_and_update_the_card(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let changes = reconcile(&[], &[(service_key("111111111111"), spike(300, Severity::High))], now());
    store.apply_anomaly_changes(&changes, now()).await.unwrap();
    let id = store.open_anomalies(Granularity::Daily).await.unwrap()[0].id.0.clone();
    let bot = Bot::new(store.clone(), Arc::new(Config::from_toml(CHANNELS).unwrap()));

    let refused = bot.handle(click("UINTERN", "CALL", Verb::Mute, &id)).await;
    assert!(matches!(&refused, Reply::Ephemeral(_)) && text_of(&refused).contains("not allowed"), "{refused:?}");
    let foreign = bot.handle(click("UBOSS", "CTEAM", Verb::Ack, &id)).await;
    assert!(text_of(&foreign).contains("not allowed"), "another account's anomaly: {foreign:?}");
    let acked = bot.handle(click("UINTERN", "CALL", Verb::Ack, &id)).await;
    assert!(
        matches!(&acked, Reply::UpdateOriginal(_)) && text_of(&acked).contains("acknowledged by slack:UINTERN"),
        "{acked:?}"
    );
    let muted = bot.handle(click("UBOSS", "CALL", Verb::Mute, &id)).await;
    assert!(text_of(&muted).contains("muted by slack:UBOSS"), "{muted:?}");
    let approve = bot.handle(click("UBOSS", "CALL", Verb::Approve, "pr-1")).await;
    assert!(text_of(&approve).contains("does not exist"), "{approve:?}");

    let audit = store.audit_entries(0, 100).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| (e.record.actor.as_str(), e.record.action.as_str())).collect();
    assert_eq!(
        actions,
        vec![
            ("slack:UINTERN", "click_refused"),
            ("slack:UBOSS", "click_refused"),
            ("slack:UINTERN", "anomaly_acknowledged"),
            ("slack:UBOSS", "anomaly_muted"),
            ("slack:UBOSS", "click_unknown_proposal"),
        ]
    );
    assert_eq!(verify_chain(&audit), Ok(()));
}
