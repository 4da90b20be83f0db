//! Owners (issue 19, item 1 and 2): the owner from each tag form, resolved against the fake
//! Slack's `users.lookupByEmail` (cached); the card's mention and the owner's direct message,
//! each once; Keep from the owner and the refusal of anyone else; the reminder as a reply in
//! the card's thread and in the owner's DM, once across two replicas; the schedule card's
//! Pause button. Store-backed cases run on Postgres and on SQLite.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime, Utc};
use costbot::bot::Bot;
use costbot::chat::outbox::OutboxWorker;
use costbot::chat::slack::users::SlackDirectory;
use costbot::chat::slack::SlackSender;
use costbot::chat::{Actor, FollowUp, Inbound, Reply, Sender};
use costbot::config::Config;
use costbot::domain::audit::verify_chain;
use costbot::domain::chat::message::{ActionRef, Verb};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::owner::{ChatUser, Owner, TeamRoute, DEFAULT_TAG_KEYS};
use costbot::domain::proposal::{Proposal, State};
use costbot::domain::resource::{Action, SafetyPath, WasteFinding};
use costbot::execution::Executor;
use costbot::owners::OwnerResolver;
use costbot::proposals::{propose_owned, Coverage, Owners};
use costbot::store::{DynStore, PgStore, SqliteStore};
use secrecy::SecretString;
use serde_json::Value;

use crate::approvals::{finding, instance, MemCloud};
use crate::slack::fake::FakeSlack;

const ANA: &str = "U0ANA00001";
const CHANNELS: &str = "[[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"UBOSS\"]\n\
     [[channels]]\nplatform = \"slack\"\nid = \"CVIEW\"\n\
     [[channels]]\nplatform = \"slack\"\nid = \"CPAY\"\n\
     [[owners]]\nteam = \"payments\"\nplatform = \"slack\"\nchannel = \"CPAY\"\n";

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn keys() -> Vec<String> {
    DEFAULT_TAG_KEYS.iter().map(|k| k.to_string()).collect()
}

fn tagged(id: &str, tags: &[(&str, &str)]) -> WasteFinding {
    finding(instance(id, "running", tags), "70.08", SafetyPath::Normal)
}

fn directory(fake: &FakeSlack) -> Arc<SlackDirectory> {
    Arc::new(SlackDirectory::new(SecretString::from("xoxb-test"), Some(&fake.api_url())).unwrap())
}

#[tokio::test]
async fn owners_resolve_from_each_tag_form_and_emails_are_looked_up_once_per_ttl() {
    crate::support::init();
    let fake = FakeSlack::start().await;
    fake.add_user("ana@example.com", ANA);
    let routes =
        vec![TeamRoute { team: "payments".into(), platform: Platform::Slack, channel: ChannelId("CPAY".into()) }];
    let resolver = OwnerResolver::new(keys(), routes, Some(directory(&fake)), Duration::minutes(60));
    let findings = [
        tagged("i-email", &[("owner", "Ana@Example.com")]),
        tagged("i-stranger", &[("created-by", "bob@example.com")]),
        tagged("i-slack", &[("Owner", "<@U0BEN00002>")]),
        tagged("i-discord", &[("owner", "80351110224678912")]),
        tagged("i-team", &[("team", "payments")]),
        tagged("i-nobody", &[("env", "dev")]),
    ];
    let t0 = now();
    let owners = resolver.resolve(&findings, t0).await;
    let of = |id: &str| {
        owners
            .get(&findings.iter().find(|f| f.resource.reference.id == id).unwrap().resource.reference.to_string())
            .unwrap()
            .clone()
    };
    let user = |platform, id: &str| Some(ChatUser { platform, id: UserId(id.into()) });
    assert_eq!(of("i-email").user, user(Platform::Slack, ANA), "the email resolved through users.lookupByEmail");
    assert_eq!(of("i-email").tag.as_deref(), Some("owner=Ana@Example.com"));
    assert_eq!(
        (of("i-stranger").user, of("i-stranger").unknown.as_deref()),
        (None, Some("no Slack user has that email"))
    );
    assert_eq!(of("i-slack").user, user(Platform::Slack, "U0BEN00002"));
    assert_eq!(of("i-discord").user, user(Platform::Discord, "80351110224678912"));
    assert_eq!(of("i-team").team.map(|t| t.channel.0), Some("CPAY".to_string()));
    assert_eq!(of("i-team").user, None);
    assert_eq!(of("i-nobody").unknown.as_deref(), Some("no owner tag"));

    // The fake saw Slack's documented call: a GET with the email in the query, one per email.
    let lookups = fake.received("/api/users.lookupByEmail");
    let asked: Vec<String> = lookups.iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
    assert_eq!(asked, ["email=ana%40example.com", "email=bob%40example.com"]);
    assert_eq!(lookups[0].headers.get("authorization").unwrap(), "Bearer xoxb-test");

    // Within the time to live the answers come from the cache; after it, from Slack again.
    resolver.resolve(&findings, t0 + Duration::minutes(59)).await;
    assert_eq!(fake.received("/api/users.lookupByEmail").len(), 2, "cached");
    resolver.resolve(&findings, t0 + Duration::minutes(61)).await;
    assert_eq!(fake.received("/api/users.lookupByEmail").len(), 4, "looked up again after the TTL");
}

/// The store, configuration and proposal of one owned resource, carded.
struct Owned {
    store: DynStore,
    config: Arc<Config>,
    cloud: Arc<MemCloud>,
    bot: Bot,
}

async fn owned(store: DynStore, tags: &[(&str, &str)], owner: Owner) -> Owned {
    let config = Arc::new(Config::from_toml(CHANNELS).unwrap());
    let f = tagged("i-owned", tags);
    let cloud = Arc::new(MemCloud::default());
    cloud.resources.lock().unwrap().insert(f.resource.reference.id.clone(), f.resource.clone());
    let owners: Owners = HashMap::from([(f.resource.reference.to_string(), owner)]);
    let rules = config.approvals.rules();
    let report = propose_owned(&store, &[f], Coverage::All, &rules, &config.channels, &owners, now()).await.unwrap();
    assert_eq!(report.proposed, 1);
    Owned { bot: Bot::new(store.clone(), config.clone()), store, config, cloud }
}

fn ana_owner(team: bool) -> Owner {
    Owner {
        tag: Some("owner=ana@example.com".into()),
        user: Some(ChatUser { platform: Platform::Slack, id: UserId(ANA.into()) }),
        team: team.then(|| TeamRoute {
            team: "payments".into(),
            platform: Platform::Slack,
            channel: ChannelId("CPAY".into()),
        }),
        unknown: None,
    }
}

impl Owned {
    async fn only(&self) -> Proposal {
        let all = self.store.proposals_in(&[]).await.unwrap();
        assert_eq!(all.len(), 1);
        all.into_iter().next().unwrap()
    }

    async fn click(&self, user: &str, channel: &str, verb: Verb) -> Reply {
        let p = self.only().await;
        let actor = Actor {
            platform: Platform::Slack,
            user: UserId(user.into()),
            roles: vec![],
            channel: ChannelId(channel.into()),
        };
        let action = ActionRef { verb, target: p.id.0.clone(), version: p.version };
        self.bot.handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, now()).await
    }

    fn executor(&self, name: &str) -> Executor {
        Executor::new(self.store.clone(), self.cloud.clone(), Arc::new(self.config.channels.clone()), true, name.into())
            .with_reminders(Some(Duration::hours(4)))
    }

    async fn actions(&self) -> Vec<String> {
        let audit = self.store.audit_entries(0, 200).await.unwrap();
        assert_eq!(verify_chain(&audit), Ok(()));
        audit.into_iter().map(|e| e.record.action).collect()
    }
}

/// Two outbox workers over the same store and fake Slack, each draining a few rounds later and
/// later (a reply whose card is not out yet is retried after its backoff).
async fn deliver(store: &DynStore, fake: &FakeSlack) {
    let sender: Arc<dyn Sender> =
        Arc::new(SlackSender::new(SecretString::from("xoxb-test"), Some(&fake.api_url())).unwrap());
    deliver_through(store, HashMap::from([(Platform::Slack, sender)])).await;
}

/// [`deliver`] through any senders.
async fn deliver_through(store: &DynStore, senders: HashMap<Platform, Arc<dyn Sender>>) {
    let workers = [OutboxWorker::new(store.clone(), senders.clone()), OutboxWorker::new(store.clone(), senders)];
    // Two workers race, so a reply can be tried before its card is recorded and wait for a
    // later round; rounds go on until one attempts nothing (a fixed four rounds lost such a
    // reply under load when its first try fell in the last round).
    for round in 0..12 {
        let at = now() + Duration::days(2) + Duration::minutes(10 * round);
        let (a, b) = tokio::join!(workers[0].drain_at(at), workers[1].drain_at(at));
        if a.unwrap() + b.unwrap() == 0 && round >= 3 {
            break;
        }
    }
}

fn text_of(post: &Value) -> String {
    post.to_string()
}

async fn the_card_mentions_the_owner_and_the_owner_gets_it_in_a_dm_once(store: DynStore) {
    crate::support::init();
    let fake = FakeSlack::start().await;
    fake.number_posts();
    let w = owned(store, &[("owner", "ana@example.com"), ("team", "payments")], ana_owner(true)).await;
    deliver(&w.store, &fake).await;
    deliver(&w.store, &fake).await;
    let posted = fake.posted();
    let to = |channel: &str| posted.iter().filter(|p| p["channel"] == channel).cloned().collect::<Vec<_>>();
    let (channel, dm, team, view) = (to("C1"), to(&format!("D{ANA}")), to("CPAY"), to("CVIEW"));
    assert_eq!((channel.len(), dm.len(), team.len(), view.len()), (1, 1, 1, 0), "{posted:#?}");
    assert!(text_of(&channel[0]).contains(&format!("<@{ANA}>")), "the card mentions the owner: {}", channel[0]);
    assert!(text_of(&channel[0]).contains("Approve") && text_of(&channel[0]).contains("Keep (owner)"));
    let dm = text_of(&dm[0]);
    assert!(dm.contains("Keep (owner)") && !dm.contains("\"Approve\""), "the owner's copy has Keep only: {dm}");
    assert!(dm.contains("You get this because you own this resource"), "{dm}");
    assert!(text_of(&team[0]).contains("Team payments"), "the team's channel gets the card too");
    // The direct message went through conversations.open with the owner.
    let opened = fake.received("/api/conversations.open");
    assert!(!opened.is_empty() && opened.iter().all(|r| r.json()["users"] == serde_json::json!([ANA])));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_card_mentions_the_owner_and_the_owner_gets_it_in_a_dm_once_on_postgres(pool: sqlx::PgPool) {
    the_card_mentions_the_owner_and_the_owner_gets_it_in_a_dm_once(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn the_card_mentions_the_owner_and_the_owner_gets_it_in_a_dm_once_on_sqlite() {
    the_card_mentions_the_owner_and_the_owner_gets_it_in_a_dm_once(Arc::new(SqliteStore::in_memory().await.unwrap()))
        .await;
}

async fn an_unknown_owner_is_said_and_the_channel_sees_the_card_as_today(store: DynStore) {
    let unknown = Owner {
        tag: Some("owner=bob@example.com".into()),
        user: None,
        team: None,
        unknown: Some("no Slack user has that email".into()),
    };
    let w = owned(store, &[("owner", "bob@example.com")], unknown).await;
    let mut entries = Vec::new();
    while let Some(d) = w.store.claim_delivery(now() + Duration::days(1), Duration::seconds(60)).await.unwrap() {
        entries.push((d.channel.0.clone(), costbot::render::text::plain(&d.message)));
        let sent = costbot::domain::outbox::DeliveryOutcome::Sent { message_id: format!("ts-{}", d.id) };
        w.store.finish_delivery(&d, &sent, now()).await.unwrap();
    }
    assert_eq!(entries.len(), 1, "no direct message, no team channel: {entries:?}");
    let (channel, text) = &entries[0];
    assert_eq!(channel, "C1");
    assert!(text.contains("Owner: unknown: owner=bob@example.com (no Slack user has that email)"), "{text}");
    assert!(text.contains("Approve") && text.contains("Deny"), "{text}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_unknown_owner_is_said_and_the_channel_sees_the_card_as_today_on_postgres(pool: sqlx::PgPool) {
    an_unknown_owner_is_said_and_the_channel_sees_the_card_as_today(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn an_unknown_owner_is_said_and_the_channel_sees_the_card_as_today_on_sqlite() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    an_unknown_owner_is_said_and_the_channel_sees_the_card_as_today(store).await;
}

async fn keep_from_the_owner_holds_the_proposal_and_anyone_else_is_refused(store: DynStore) {
    let w = owned(store, &[("owner", "ana@example.com")], ana_owner(false)).await;
    let before = w.only().await;

    // Someone who neither owns it nor approves: refused, audited, nothing changes.
    let refused = serde_json::to_string(&w.click("UINTERN", "CVIEW", Verb::Keep).await).unwrap();
    assert!(refused.contains("only the resource's owner or an approver"), "{refused}");
    let from_dm = serde_json::to_string(&w.click("U0MALLORY1", "DU0MALLORY1", Verb::Keep).await).unwrap();
    assert!(from_dm.contains("only the resource's owner or an approver"), "{from_dm}");
    assert_eq!(w.only().await, before);

    // The owner, from their direct message (no configured channel): kept, audited, shown.
    let reply = w.click(ANA, &format!("D{ANA}"), Verb::Keep).await;
    let Reply::UpdateOriginal(card) = reply else { panic!("the card is updated in place: {reply:?}") };
    let text = costbot::render::text::plain(&card);
    assert!(text.contains(&format!("Kept by slack:{ANA} until")) && text.contains("its owner keeps it"), "{text}");
    let kept = w.only().await;
    assert!(matches!(&kept.state, State::Kept { reason, .. } if reason == "its owner keeps it"), "{:?}", kept.state);

    // Kept means not executed, however often the workers look; not reminded either.
    for name in ["replica-a", "replica-b"] {
        w.executor(name).run_once(now() + Duration::hours(23)).await.unwrap();
    }
    assert_eq!(w.cloud.acts.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(matches!(w.only().await.state, State::Kept { .. }));

    let actions = w.actions().await;
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!((count("keep_refused"), count("proposal_kept"), count("proposal_reminded")), (2, 1, 0), "{actions:?}");
    // The channel's card and the owner's copy both show it.
    let mut shown = Vec::new();
    while let Some(d) = w.store.claim_delivery(now() + Duration::days(1), Duration::seconds(60)).await.unwrap() {
        shown.push((d.channel.0.clone(), costbot::render::text::plain(&d.message)));
        let sent = costbot::domain::outbox::DeliveryOutcome::Sent { message_id: format!("ts-{}", d.id) };
        w.store.finish_delivery(&d, &sent, now()).await.unwrap();
    }
    assert!(shown.iter().any(|(c, t)| c == "C1" && t.contains("Kept by")), "{shown:?}");
    assert!(shown.iter().any(|(c, t)| *c == format!("@{ANA}") && t.contains("Kept by")), "{shown:?}");

    // Once the keep has run out, discovery asks again if the waste is still there.
    let f = tagged("i-owned", &[("owner", "ana@example.com")]);
    let (rules, later) = (w.config.approvals.rules(), now() + Duration::days(31));
    let owners = Owners::from([(f.resource.reference.to_string(), ana_owner(false))]);
    let again = propose_owned(&w.store, &[f], Coverage::All, &rules, &w.config.channels, &owners, later).await.unwrap();
    assert_eq!((again.reproposed, w.only().await.state), (1, State::Pending));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn keep_from_the_owner_holds_the_proposal_and_anyone_else_is_refused_on_postgres(pool: sqlx::PgPool) {
    keep_from_the_owner_holds_the_proposal_and_anyone_else_is_refused(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn keep_from_the_owner_holds_the_proposal_and_anyone_else_is_refused_on_sqlite() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    keep_from_the_owner_holds_the_proposal_and_anyone_else_is_refused(store).await;
}

async fn the_reminder_is_a_thread_reply_and_reaches_the_owner_once_across_two_replicas(store: DynStore) {
    crate::support::init();
    let fake = FakeSlack::start().await;
    fake.number_posts();
    let w = owned(store, &[("owner", "ana@example.com")], ana_owner(false)).await;
    let p = w.only().await;
    // Both replicas, several passes inside the lead time.
    for minutes in [0, 1, 30] {
        for name in ["replica-a", "replica-b"] {
            w.executor(name).run_once(p.expires_at - Duration::hours(4) + Duration::minutes(minutes)).await.unwrap();
        }
    }
    deliver(&w.store, &fake).await;
    let posted = fake.posted();
    let card = |channel: &str| {
        posted
            .iter()
            .find(|x| x["channel"] == channel && x.get("thread_ts").is_none())
            .unwrap_or_else(|| panic!("{posted:#?}"))
    };
    let reminders: Vec<&Value> = posted.iter().filter(|x| text_of(x).contains("Reminder:")).collect();
    assert_eq!(reminders.len(), 2, "one in the channel, one to the owner: {posted:#?}");
    let (channel_card, dm_card) = (card("C1"), card(&format!("D{ANA}")));
    // Each reminder replies to the card in its own conversation: the card's ts, as Slack
    // answered it, is the reminder's thread_ts.
    let ts_of = |post: &Value| {
        let index = posted.iter().position(|x| x == post).unwrap() + 1;
        format!("1700000000.{index:06}")
    };
    let in_channel = reminders.iter().find(|r| r["channel"] == "C1").unwrap();
    assert_eq!(in_channel["thread_ts"], Value::String(ts_of(channel_card)), "{in_channel}");
    let to_owner = reminders.iter().find(|r| r["channel"] == format!("D{ANA}")).unwrap();
    assert_eq!(to_owner["thread_ts"], Value::String(ts_of(dm_card)), "{to_owner}");
    assert!(text_of(in_channel).contains(&format!("<@{ANA}>")), "the reminder mentions the owner: {in_channel}");
    let actions = w.actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "proposal_reminded").count(), 1, "{actions:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_reminder_is_a_thread_reply_and_reaches_the_owner_once_across_two_replicas_on_postgres(pool: sqlx::PgPool) {
    let store = Arc::new(PgStore::from_pool(pool));
    the_reminder_is_a_thread_reply_and_reaches_the_owner_once_across_two_replicas(store).await;
}

#[tokio::test]
async fn the_reminder_is_a_thread_reply_and_reaches_the_owner_once_across_two_replicas_on_sqlite() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    the_reminder_is_a_thread_reply_and_reaches_the_owner_once_across_two_replicas(store).await;
}

async fn the_schedule_cards_pause_button_pauses_like_the_command(store: DynStore) {
    let mut f = tagged("i-nightly", &[("costbot:offhours", "19:00-07:00 Mon-Fri Europe/Berlin")]);
    f.action = Action::OffHours;
    f.rule = "offhours".into();
    let config = Arc::new(Config::from_toml(CHANNELS).unwrap());
    let p = Proposal::new(f, &config.approvals.rules(), now()).unwrap();
    let done = p.with_state(State::Done { outcome: "on its off-hours schedule".into(), dry_run: true }, now());
    assert!(store.insert_proposal(&done).await.unwrap());
    let card = costbot::render::approval::card(&done, now());
    let pause = card
        .blocks
        .iter()
        .find_map(|b| match b {
            costbot::domain::chat::message::Block::Actions { buttons } => buttons.first().cloned(),
            _ => None,
        })
        .expect("the schedule card has a button");
    assert_eq!((pause.label.as_str(), pause.action.verb), ("Pause schedule", Verb::Pause));

    let bot = Bot::new(store.clone(), config);
    let click = |user: &str| Inbound::Click {
        actor: Actor {
            platform: Platform::Slack,
            user: UserId(user.into()),
            roles: vec![],
            channel: ChannelId("C1".into()),
        },
        action: pause.action.clone(),
        message: None,
        follow_up: FollowUp::None,
    };
    let refused = serde_json::to_string(&bot.handle_at(click("UINTERN"), now()).await).unwrap();
    assert!(refused.contains("Only this channel's approvers can pause"), "{refused}");
    assert!(store.schedule_pauses().await.unwrap().is_empty());
    let paused = serde_json::to_string(&bot.handle_at(click("UBOSS"), now()).await).unwrap();
    assert!(paused.contains("is paused until someone resumes it"), "{paused}");
    let pauses = store.schedule_pauses().await.unwrap();
    assert_eq!((pauses.len(), pauses[0].schedule.as_str(), pauses[0].until), (1, done.id.0.as_str(), None));
    let audit = store.audit_entries(0, 50).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["offhours_refused", "offhours_paused"]);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_schedule_cards_pause_button_pauses_like_the_command_on_postgres(pool: sqlx::PgPool) {
    the_schedule_cards_pause_button_pauses_like_the_command(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn the_schedule_cards_pause_button_pauses_like_the_command_on_sqlite() {
    the_schedule_cards_pause_button_pauses_like_the_command(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}

const DISCORD_OWNER: &str = "80351110224678912";
const DISCORD_CHANNEL: &str = "1100000000000000001";

/// On Discord: the card in the channel mentions the owner, the owner's copy goes to the DM
/// Discord opens (`POST /users/@me/channels`), and the reminder replies to each card with a
/// message reference.
async fn on_discord_the_owner_is_mentioned_sent_the_card_and_replied_to(store: DynStore) {
    use crate::discord::FakeDiscord;
    crate::support::init();
    let (fake, url) = FakeDiscord::start().await;
    let toml = format!("[[channels]]\nplatform = \"discord\"\nid = \"{DISCORD_CHANNEL}\"\napprovers = [\"1\"]\n");
    let config = Arc::new(Config::from_toml(&toml).unwrap());
    let f = tagged("i-discord", &[("owner", DISCORD_OWNER)]);
    let owner = Owner {
        tag: Some(format!("owner={DISCORD_OWNER}")),
        user: Some(ChatUser { platform: Platform::Discord, id: UserId(DISCORD_OWNER.into()) }),
        team: None,
        unknown: None,
    };
    let owners: Owners = HashMap::from([(f.resource.reference.to_string(), owner)]);
    let rules = config.approvals.rules();
    propose_owned(&store, std::slice::from_ref(&f), Coverage::All, &rules, &config.channels, &owners, now())
        .await
        .unwrap();
    let p = store.proposals_in(&[]).await.unwrap().remove(0);
    let cloud = Arc::new(MemCloud::default());
    for name in ["replica-a", "replica-b"] {
        Executor::new(store.clone(), cloud.clone(), Arc::new(config.channels.clone()), true, name.into())
            .with_reminders(Some(Duration::hours(4)))
            .run_once(p.expires_at - Duration::hours(3))
            .await
            .unwrap();
    }
    let sender: Arc<dyn Sender> = Arc::new(FakeDiscord::sender(&url));
    deliver_through(&store, HashMap::from([(Platform::Discord, sender)])).await;
    let requests = fake.requests();
    let posts = |channel: &str| {
        let path = format!("/api/v10/channels/{channel}/messages");
        requests.iter().filter(|r| r.method == axum::http::Method::POST && r.path == path).cloned().collect::<Vec<_>>()
    };
    let opened: Vec<_> = requests.iter().filter(|r| r.path == "/api/v10/users/@me/channels").collect();
    assert!(!opened.is_empty() && opened.iter().all(|r| r.body["recipient_id"] == DISCORD_OWNER), "{requests:#?}");
    let dm_channel = format!("15{}", &DISCORD_OWNER[DISCORD_OWNER.len() - 17..]);
    let (in_channel, in_dm) = (posts(DISCORD_CHANNEL), posts(&dm_channel));
    assert_eq!((in_channel.len(), in_dm.len()), (2, 2), "a card and a reminder each: {requests:#?}");
    let card = in_channel[0].body.to_string();
    assert!(card.contains(&format!("<@{DISCORD_OWNER}>")), "the card mentions the owner: {card}");
    assert!(in_dm[0].body.to_string().contains("Keep (owner)") && !in_dm[0].body.to_string().contains("\"Approve\""));
    for reminder in [&in_channel[1], &in_dm[1]] {
        assert!(reminder.body.to_string().contains("Reminder:"), "{:?}", reminder.body);
        assert_eq!(reminder.body["message_reference"]["message_id"], "1200000000000000001", "a reply to the card");
    }
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn on_discord_the_owner_is_mentioned_sent_the_card_and_replied_to_on_postgres(pool: sqlx::PgPool) {
    on_discord_the_owner_is_mentioned_sent_the_card_and_replied_to(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn on_discord_the_owner_is_mentioned_sent_the_card_and_replied_to_on_sqlite() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    on_discord_the_owner_is_mentioned_sent_the_card_and_replied_to(store).await;
}

/// The whole path through the app: an instance in moto tagged with its owner's email, the
/// discovery job resolving it through the fake Slack's `users.lookupByEmail`, the card (with
/// the mention) in the channel and the owner's copy in a DM, and the owner's Keep sent as a
/// signed Slack interaction from that DM to the real server.
#[sqlx::test(migrations = "migrations/postgres")]
async fn discovery_resolves_the_owner_in_slack_and_the_owner_keeps_it_from_the_dm(pool: sqlx::PgPool) {
    use crate::slack::fake::{interaction_body, post_signed};
    use crate::slack_e2e::{click, serve, SECRET};
    use costbot::app::App;
    crate::support::init();
    let moto = crate::support::Moto::start().await;
    let fake = FakeSlack::start().await;
    fake.number_posts();
    fake.add_user("ana@example.com", ANA);
    std::env::set_var("COSTBOT_TEST_OWNERS_TOKEN", "xoxb-owners");
    std::env::set_var("COSTBOT_TEST_OWNERS_SECRET", SECRET);
    let base = crate::waste_flow::config(&moto.url, true);
    let toml = format!(
        "[aws]\nendpoint_url = \"{}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [costs]\nbreakdown_every_hours = 0\n[waste]\nregions = [\"us-east-1\"]\n\
         [[accounts]]\nid = \"123456789012\"\ncost_explorer = true\n\
         [slack]\nbot_token = {{ env = \"COSTBOT_TEST_OWNERS_TOKEN\" }}\n\
         signing_secrets = [{{ env = \"COSTBOT_TEST_OWNERS_SECRET\" }}]\napi_url = \"{}\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"U1\", \"U2\"]\n",
        moto.url,
        fake.api_url()
    );
    let ec2 = crate::waste_flow::ec2(&base).await;
    crate::waste_flow::launch(&ec2, &[("expires-at", "2020-01-01"), ("owner", "ana@example.com")]).await;
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let app = Arc::new(App::with_store(Config::from_toml(&toml).unwrap(), store, now()).await.unwrap());
    app.discover_and_propose(now()).await.unwrap().expect("waste discovery is on");

    let p = app.store.proposals_in(&["pending"]).await.unwrap().remove(0);
    let owner = p.owner.clone().expect("the owner is stored on the proposal");
    assert_eq!(owner.user, Some(ChatUser { platform: Platform::Slack, id: UserId(ANA.into()) }));
    assert_eq!(fake.received("/api/users.lookupByEmail").len(), 1, "resolved by the job, once");
    let posted = fake.posted();
    let channel_card = posted.iter().find(|x| x["channel"] == "C1").expect("the channel's card");
    assert!(text_of(channel_card).contains(&format!("<@{ANA}>")), "{channel_card}");
    assert!(posted.iter().any(|x| x["channel"] == format!("D{ANA}")), "the owner's copy: {posted:#?}");

    // Ana presses Keep on her copy: a signed interaction from her DM to the real server.
    let (url, stop, server) = serve(&app).await;
    let keep = ActionRef { verb: Verb::Keep, target: p.id.0.clone(), version: p.version }.encode();
    let mut payload: Value = serde_json::from_str(&interaction_body_json(&click(&keep, &fake.response_url("keep"))))
        .expect("the click payload");
    payload["channel"]["id"] = serde_json::json!(format!("D{ANA}"));
    payload["container"]["channel_id"] = serde_json::json!(format!("D{ANA}"));
    payload["user"]["id"] = serde_json::json!(ANA);
    let ts = Utc::now().timestamp();
    let answer = post_signed(&format!("{url}/slack/interactions"), SECRET, ts, &interaction_body(&payload), &[]).await;
    assert_eq!(answer.status(), 200);
    let kept = async {
        loop {
            let now_p = app.store.proposal(&p.id).await.unwrap().unwrap();
            if matches!(now_p.state, State::Kept { .. }) {
                return now_p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let kept = tokio::time::timeout(std::time::Duration::from_secs(20), kept).await.expect("kept");
    assert!(matches!(&kept.state, State::Kept { by, .. } if by == &format!("slack:{ANA}")), "{:?}", kept.state);
    let actions: Vec<String> =
        app.store.audit_entries(0, 100).await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert!(actions.iter().any(|a| a == "proposal_kept"), "{actions:?}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The JSON inside a form-encoded interaction body (`payload=…`).
fn interaction_body_json(body: &str) -> String {
    let form: HashMap<String, String> = serde_urlencoded::from_str(body).unwrap();
    form["payload"].clone()
}

/// `/cost keep ID REASON`: the owner's own words on the card, from their DM; a person who is
/// neither owner nor approver is refused in a channel.
async fn the_keep_command_records_the_owners_reason(store: DynStore) {
    let w = owned(store, &[("owner", "ana@example.com")], ana_owner(false)).await;
    let id = w.only().await.id;
    let ask = |user: &str, channel: &str, text: String| {
        let actor = Actor {
            platform: Platform::Slack,
            user: UserId(user.into()),
            roles: vec![],
            channel: ChannelId(channel.into()),
        };
        w.bot.handle_at(Inbound::Command { actor, text, follow_up: FollowUp::None }, now())
    };
    let refused = serde_json::to_string(&ask("UINTERN", "CVIEW", format!("keep {id} mine now")).await).unwrap();
    assert!(refused.contains("only the resource's owner or an approver"), "{refused}");
    let reply = serde_json::to_string(&ask(ANA, &format!("D{ANA}"), format!("keep {id} needed for the release")).await)
        .unwrap();
    assert!(reply.contains("is kept until") && reply.contains("needed for the release"), "{reply}");
    let kept = w.only().await;
    assert!(matches!(&kept.state, State::Kept { reason, .. } if reason == "needed for the release"), "{kept:?}");
    let card = costbot::render::text::plain(&costbot::render::approval::card(&kept, now()));
    assert!(card.contains("needed for the release"), "shown on the card: {card}");
    let actions = w.actions().await;
    assert_eq!(actions.iter().filter(|a| a.as_str() == "keep_refused").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| a.as_str() == "proposal_kept").count(), 1, "{actions:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_keep_command_records_the_owners_reason_on_postgres(pool: sqlx::PgPool) {
    the_keep_command_records_the_owners_reason(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn the_keep_command_records_the_owners_reason_on_sqlite() {
    the_keep_command_records_the_owners_reason(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}
