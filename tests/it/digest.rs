//! The daily digest: its figures against sums computed here from known store data (Postgres
//! and SQLite), a day without data, savings from executed actions, catch-up after a missed
//! schedule, and delivery by the scheduler into the fake Slack (files upload v2) and the fake
//! Discord (multipart attachment), once, with two replicas on one database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use costbot::app::App;
use costbot::config::Config;
use costbot::digest::Digests;
use costbot::domain::chat::message::{Block, Message};
use costbot::domain::{Account, AccountId, DateRange, Granularity, Money};
use costbot::render::money_delta;
use costbot::scheduler::Scheduler;
use costbot::store::{DynStore, PgStore, SqliteStore};
use rust_decimal::Decimal;

use crate::support::{daily_facts, Fact};

use crate::discord::FakeDiscord;
use crate::slack::fake::{Answer, FakeSlack};

const PROD: &str = "111111111111";
const STAGING: &str = "222222222222";
const SERVICES: [&str; 3] = ["Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service", "AWS Lambda"];

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Ten-decimal amounts varying by day, account and service, from Sep 1 to `last`.
fn dataset(last: NaiveDate) -> Vec<Fact> {
    let mut out = Vec::new();
    for day in d("2026-09-01").iter_days().take_while(|x| *x <= last) {
        for (a, account) in [PROD, STAGING].into_iter().enumerate() {
            for (s, service) in SERVICES.into_iter().enumerate() {
                let cents = 2_000
                    + (i64::from(day.ordinal()) * (53 + s as i64 * 131) + a as i64 * 977 + s as i64 * 4_001) % 30_000;
                let amount = Decimal::new(cents * 100_000_000 + i64::from(day.ordinal()) % 89, 10);
                out.push(Fact { day, account, service, amount });
            }
        }
    }
    out
}

async fn load(store: &DynStore, facts: &[Fact]) {
    let accounts = [(PROD, "prod"), (STAGING, "staging")].map(|(id, name)| Account {
        id: AccountId::parse(id).unwrap(),
        name: Some(name.into()),
        configured: true,
    });
    store.upsert_accounts(&accounts).await.unwrap();
    let rows = daily_facts(facts, None);
    let range = DateRange::new(d("2026-09-01"), d("2026-11-26")).unwrap();
    let source = AccountId::parse(PROD).unwrap();
    store.replace_cost_facts(&source, Granularity::Daily, &range, &rows, now()).await.unwrap();
}

fn now() -> NaiveDateTime {
    "2026-11-25T09:00:00".parse().unwrap()
}

/// The sum, computed here, of one account's facts from `from` to `to` inclusive.
fn sum(facts: &[Fact], account: &str, from: &str, to: &str, service: Option<&str>) -> Money {
    let total: Decimal = facts
        .iter()
        .filter(|f| {
            f.account == account && f.day >= d(from) && f.day <= d(to) && service.is_none_or(|s| f.service == s)
        })
        .map(|f| f.amount)
        .sum();
    Money::from_decimal(total)
}

fn field<'a>(message: &'a Message, label_starts: &str) -> &'a str {
    message
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Fields { fields } => {
                fields.iter().find(|(l, _)| l.starts_with(label_starts)).map(|(_, v)| v.as_str())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no field `{label_starts}` in {message:#?}"))
}

fn scoped_config() -> Arc<Config> {
    let toml = format!("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\naccounts = [\"{PROD}\"]\n");
    Arc::new(Config::from_toml(&toml).unwrap())
}

async fn check_figures(store: DynStore) {
    let facts = dataset(d("2026-11-24"));
    load(&store, &facts).await;
    let config = scoped_config();
    let digests = Digests::new(store, config.clone(), HashMap::new());
    let message = digests.build(&config.channels[0], d("2026-11-25"), now(), None).await.unwrap();
    let text = costbot::render::text::plain(&message);

    let yesterday = sum(&facts, PROD, "2026-11-24", "2026-11-24", None);
    let day_before = sum(&facts, PROD, "2026-11-23", "2026-11-23", None);
    let week_ago = sum(&facts, PROD, "2026-11-17", "2026-11-17", None);
    let value = field(&message, "Yesterday");
    assert!(value.starts_with(&yesterday.to_string()), "{value} vs {yesterday}");
    assert!(value.contains(&money_delta(yesterday - day_before)), "{value}");
    let value = field(&message, "Against last week");
    assert!(value.contains(&money_delta(yesterday - week_ago)) && value.contains(&week_ago.to_string()), "{value}");
    let value = field(&message, "Month to date");
    let mtd = sum(&facts, PROD, "2026-11-01", "2026-11-24", None);
    let previous = sum(&facts, PROD, "2026-10-01", "2026-10-24", None);
    assert!(value.starts_with(&mtd.to_string()) && value.contains(&money_delta(mtd - previous)), "{value}");

    // Movers: every service's change from the 23rd to the 24th, biggest first, computed here.
    let mut changes: Vec<(&str, Money)> = SERVICES
        .iter()
        .map(|s| {
            (
                *s,
                sum(&facts, PROD, "2026-11-24", "2026-11-24", Some(s))
                    - sum(&facts, PROD, "2026-11-23", "2026-11-23", Some(s)),
            )
        })
        .filter(|(_, c)| *c != Money::ZERO)
        .collect();
    changes.sort_by(|a, b| b.1.abs().cmp(&a.1.abs()).then_with(|| a.0.cmp(b.0)));
    let rows = message
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table { rows, .. } => Some(rows.clone()),
            _ => None,
        })
        .expect("a movers table");
    for (row, (service, change)) in rows.iter().zip(&changes) {
        assert_eq!(row[0], *service);
        assert!(row[3].contains(&money_delta(*change)), "{row:?} vs {change}");
    }
    assert_eq!(rows.len(), changes.len().min(5));
    // The scoped channel never sees the other account's money.
    let both =
        sum(&facts, PROD, "2026-11-24", "2026-11-24", None) + sum(&facts, STAGING, "2026-11-24", "2026-11-24", None);
    assert!(!text.contains(&both.to_string()), "{text}");
    // The chart goes with it, a PNG of the promised size.
    let chart = &message.attachments[0];
    let info = png::Decoder::new(std::io::Cursor::new(&chart.png)).read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (costbot::render::chart::WIDTH, costbot::render::chart::HEIGHT));
    assert!(chart.alt.starts_with("Last 30 days: "), "{}", chart.alt);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn digest_figures_match_independent_sums_on_postgres(pool: sqlx::PgPool) {
    check_figures(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn digest_figures_match_independent_sums_on_sqlite() {
    check_figures(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}

#[tokio::test]
async fn a_day_without_data_is_said_not_shown_as_zero() {
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    // Cost Explorer has not delivered the 24th yet.
    load(&store, &dataset(d("2026-11-23"))).await;
    let config = scoped_config();
    let message = Digests::new(store, config.clone(), HashMap::new())
        .build(&config.channels[0], d("2026-11-25"), now(), None)
        .await
        .unwrap();
    let text = costbot::render::text::plain(&message);
    assert!(text.contains("No cost data for Tue Nov 24 yet."), "{text}");
    assert_eq!(field(&message, "Yesterday"), "no data yet");
    assert!(!text.contains("$0.00"), "no zero shown as a real figure: {text}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_missed_digest_is_posted_once_marked_late(pool: sqlx::PgPool) {
    crate::support::init();
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    load(&store, &dataset(d("2026-11-24"))).await;
    let config = Arc::new(Config::from_toml("[[channels]]\nplatform = \"console\"\nid = \"demo\"\n").unwrap());
    let digests = Digests::new(store.clone(), config, HashMap::new());
    // Due at 09:00 UTC; costbot came back at 11:30.
    let back: DateTime<Utc> = "2026-11-25T11:30:00Z".parse().unwrap();
    let first = digests.run_due(back).await.unwrap();
    assert_eq!((first.posted, first.late), (1, 1));
    let again = digests.run_due(back + chrono::Duration::minutes(1)).await.unwrap();
    assert_eq!((again.posted, again.already), (0, 1));
    let entries = store.digests(10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].late);
    assert_eq!(entries[0].scheduled_at, "2026-11-25T09:00:00".parse().unwrap());
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(counts.pending, 1, "one message queued");
    let delivery = store.claim_delivery(back.naive_utc(), chrono::Duration::seconds(60)).await.unwrap().unwrap();
    let text = costbot::render::text::plain(&delivery.message);
    assert!(text.contains("Late: this digest was due 09:00 UTC, Nov 25"), "{text}");
    assert_eq!(delivery.message.attachments.len(), 1, "the chart survives the outbox");
}

/// Slack and Discord channels on fakes, a digest due every second, and a fast check.
fn chat_config(slack_api: &str, discord_api: &str, discord_channel: &str) -> Config {
    std::env::set_var("COSTBOT_TEST_SLACK_TOKEN", "xoxb-test");
    std::env::set_var("COSTBOT_TEST_DISCORD_TOKEN", "discord-test-token");
    std::env::set_var("COSTBOT_TEST_SLACK_SECRET", "8f742231b10e8888abcd99yyyzzz85a5");
    let toml = format!(
        "[costs]\nsource = \"simulated\"\nbackfill_days = 60\nbreakdown_every_hours = 0\nschedule = \"0 0 0 1 1 *\"\n\
         [anomaly]\nenabled = false\n\
         [digest]\nschedule = \"* * * * * *\"\ncheck_schedule = \"* * * * * *\"\n\
         [slack]\nbot_token = {{ env = \"COSTBOT_TEST_SLACK_TOKEN\" }}\nsigning_secrets = [{{ env = \"COSTBOT_TEST_SLACK_SECRET\" }}]\napi_url = \"{slack_api}\"\n\
         [discord]\nbot_token = {{ env = \"COSTBOT_TEST_DISCORD_TOKEN\" }}\napplication_id = \"{}\"\npublic_key = \"{}\"\napi_url = \"{discord_api}\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\n\
         [[channels]]\nplatform = \"discord\"\nid = \"{discord_channel}\"\n",
        crate::discord::APP_ID,
        crate::discord::key_pair().1
    );
    Config::from_toml(&toml).unwrap()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn two_schedulers_post_each_channels_digest_once(pool: sqlx::PgPool) {
    crate::support::init();
    let slack = FakeSlack::start().await;
    let (discord, discord_api) = FakeDiscord::start().await;
    let channel = "645027906669510667";
    let now = Utc::now().naive_utc();
    let mut schedulers = Vec::new();
    for replica in ["replica-a", "replica-b"] {
        let store = Arc::new(PgStore::from_pool(pool.clone()));
        let app = Arc::new(
            App::with_store(chat_config(&slack.api_url(), &discord_api, channel), store.clone(), now).await.unwrap(),
        );
        if replica == "replica-a" {
            app.collector.run(now.date(), None, None).await.unwrap();
        }
        schedulers.push(Scheduler::start(store, replica.to_string(), app.jobs()).await.unwrap());
    }
    let posted = slack
        .wait_for("/api/files.completeUploadExternal", Duration::from_secs(20))
        .await
        .expect("Slack got the digest");
    let sent = discord
        .wait_for(Duration::from_secs(20), |r| {
            r.path.ends_with(&format!("/channels/{channel}/messages")) && !r.files.is_empty()
        })
        .await;
    // Both replicas keep checking every second; give them time to post a second time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for scheduler in schedulers {
        scheduler.shutdown().await.unwrap();
    }

    assert_eq!(slack.received("/api/files.completeUploadExternal").len(), 1, "one digest in Slack");
    assert_eq!(slack.received("/api/chat.postMessage").len(), 0);
    let uploads = slack.received("/upload/F0CHART");
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].body.starts_with(b"\x89PNG\r\n\x1a\n"), "the chart is a PNG");
    let complete = posted.json();
    assert_eq!(complete["channel_id"], "C1");
    assert_eq!(complete["files"][0]["id"], "F0CHART");
    assert!(complete["blocks"].to_string().contains("Daily cost digest"), "{complete}");

    let discord_posts: Vec<_> =
        discord.requests().into_iter().filter(|r| r.path.ends_with(&format!("/channels/{channel}/messages"))).collect();
    assert_eq!(discord_posts.len(), 1, "one digest in Discord");
    assert!(sent.files[0].1.starts_with(b"\x89PNG"), "the chart is attached");
    let embeds = sent.body["embeds"].as_array().expect("embeds");
    let image = embeds.last().unwrap()["image"]["url"].as_str().unwrap_or_default();
    assert!(image.starts_with("attachment://cost-digest-"), "{}", sent.body);
    assert_eq!(sent.body["attachments"][0]["id"], 0);

    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM digests").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 2, "one record per channel");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn channels_that_refuse_files_get_the_sparkline_instead(pool: sqlx::PgPool) {
    crate::support::init();
    let slack = FakeSlack::start().await;
    slack.script(
        "/api/files.getUploadURLExternal",
        vec![Answer::ok(serde_json::json!({"ok": false, "error": "missing_scope"}))],
    );
    let (discord, discord_api) = FakeDiscord::start().await;
    let now = Utc::now().naive_utc();
    let store = Arc::new(PgStore::from_pool(pool));
    let app = App::with_store(chat_config(&slack.api_url(), &discord_api, "403403"), store, now).await.unwrap();
    app.collector.run(now.date(), None, None).await.unwrap();
    let report = app.post_due_digests(Utc::now()).await.unwrap();
    assert_eq!(report.posted, 2);

    let post = slack.received("/api/chat.postMessage");
    assert_eq!(post.len(), 1, "posted without the file");
    assert!(post[0].json()["blocks"].to_string().contains("Last 30 days: "), "sparkline in the text");
    let tries: Vec<_> =
        discord.requests().into_iter().filter(|r| r.path.ends_with("/channels/403403/messages")).collect();
    assert_eq!(tries.len(), 2, "refused with the file, then posted without it");
    assert!(tries[1].files.is_empty() && tries[1].body.to_string().contains("Last 30 days: "), "{}", tries[1].body);
    assert_eq!(app.store.outbox_counts().await.unwrap().sent, 2);
}

/// Approves every simulated proposal that needs one approver and lets the worker act.
async fn approve_and_execute(app: &App, now: NaiveDateTime) -> Vec<costbot::domain::proposal::Proposal> {
    use costbot::chat::{Actor, FollowUp, Inbound};
    use costbot::domain::chat::message::{ActionRef, Verb};
    use costbot::domain::chat::{ChannelId, Platform, UserId};
    app.discover_and_propose(now).await.unwrap().expect("waste discovery is on");
    let pending = app.store.proposals_in(&["pending"]).await.unwrap();
    let single: Vec<_> = pending.into_iter().filter(|p| p.required_approvals == 1).collect();
    for p in &single {
        let actor = Actor {
            platform: Platform::Console,
            user: UserId("you".into()),
            roles: vec![],
            channel: ChannelId("demo".into()),
        };
        let action = ActionRef { verb: Verb::Approve, target: p.id.0.clone(), version: p.version };
        app.bot.handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, now).await;
    }
    app.executor("test-worker").expect("a cloud to act on").run_once(now).await.unwrap();
    single
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn savings_realised_this_month_sum_the_executed_actions(pool: sqlx::PgPool) {
    crate::support::init();
    let toml =
        "[costs]\nsource = \"simulated\"\nbackfill_days = 40\nbreakdown_every_hours = 0\n[anomaly]\nenabled = false\n\
                [approvals]\ndry_run = false\n[waste]\nenabled = true\n\
                [[channels]]\nplatform = \"console\"\nid = \"demo\"\napprovers = [\"you\"]\n";
    let now = Utc::now().naive_utc();
    let store = Arc::new(PgStore::from_pool(pool));
    let app = App::with_store(Config::from_toml(toml).unwrap(), store, now).await.unwrap();
    let executed = approve_and_execute(&app, now).await;
    assert!(executed.len() >= 2, "the simulated cloud has single-approver waste: {}", executed.len());
    let done = app.store.proposals_in(&["done"]).await.unwrap();
    assert_eq!(done.len(), executed.len(), "every approved proposal was executed");
    // The monthly saving of each executed action, summed here.
    let expected: Money = executed.iter().filter_map(|p| p.finding.monthly_saving).sum();
    let unknown = executed.iter().filter(|p| p.finding.monthly_saving.is_none()).count();
    let message =
        app.digests().build(&app.config.channels[0], now.date() + chrono::Days::new(1), now, None).await.unwrap();
    let text = costbot::render::text::plain(&message);
    let plural = if executed.len() == 1 { "" } else { "s" };
    assert!(text.contains(&format!("{expected}/month from {} executed action{plural}", executed.len())), "{text}");
    assert_eq!(unknown == 0, !text.contains("no known price"), "{text}");
    assert!(text.contains("Waiting for approval: "), "{text}");
}
