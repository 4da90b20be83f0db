//! `compare` sets like against like (issue 20, item 5). On the 1st of a month, a few collected
//! hours of today were set against the whole of the previous month's 1st ("-69.9 %"); now the
//! same hours are compared where hourly data exists, and otherwise nothing is compared yet.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use costbot::bot::Bot;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, PgStore, SqliteStore};

const ACCOUNT: &str = "111111111111";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn fact(granularity: Granularity, at: NaiveDateTime, dollars: i64, estimated: bool) -> CostFact {
    CostFact {
        granularity,
        period_start: at,
        account: AccountId::parse(ACCOUNT).unwrap(),
        service: ServiceName::parse("Amazon Elastic Compute Cloud - Compute").unwrap(),
        amount: Money::from_decimal(dollars.into()),
        unit: "USD".into(),
        estimated,
    }
}

/// November at $240 a day ($10 an hour on Nov 1), and Dec 1 collected at 03:00: $30 so far.
async fn load(store: &DynStore) {
    let source = AccountId::parse(ACCOUNT).unwrap();
    let collected = "2026-12-01T03:30:00".parse().unwrap();
    let mut daily: Vec<CostFact> = d("2026-11-01")
        .iter_days()
        .take_while(|day| *day < d("2026-12-01"))
        .map(|day| fact(Granularity::Daily, day.and_hms_opt(0, 0, 0).unwrap(), 240, false))
        .collect();
    daily.push(fact(Granularity::Daily, d("2026-12-01").and_hms_opt(0, 0, 0).unwrap(), 30, true));
    let range = DateRange::new(d("2026-11-01"), d("2026-12-02")).unwrap();
    store.replace_cost_facts(&source, Granularity::Daily, &range, &daily, collected).await.unwrap();
    let start = d("2026-11-01").and_hms_opt(0, 0, 0).unwrap();
    let mut hourly: Vec<CostFact> =
        (0..24).map(|h| fact(Granularity::Hourly, start + Duration::hours(h), 10, false)).collect();
    let today = d("2026-12-01").and_hms_opt(0, 0, 0).unwrap();
    hourly.extend((0..3).map(|h| fact(Granularity::Hourly, today + Duration::hours(h), 10, true)));
    store.replace_cost_facts(&source, Granularity::Hourly, &range, &hourly, collected).await.unwrap();
}

async fn ask(store: DynStore, text: &str) -> String {
    let config = Config::from_toml("[[channels]]\nplatform = \"slack\"\nid = \"CALL\"\n").unwrap();
    let bot = Bot::new(store, Arc::new(config));
    let actor = Actor {
        platform: Platform::Slack,
        user: UserId("U1".into()),
        roles: vec![],
        channel: ChannelId("CALL".into()),
    };
    let now = "2026-12-01T04:00:00".parse().unwrap();
    let reply = bot.handle_at(Inbound::Command { actor, text: text.into(), follow_up: FollowUp::None }, now).await;
    assert!(matches!(reply, Reply::InChannel(_)), "{text}: {reply:?}");
    serde_json::to_string(&reply).unwrap()
}

async fn check(store: DynStore) {
    // With hourly data on both sides: today's three hours against Nov 1's first three.
    load(&store).await;
    let answer = ask(store.clone(), "mtd compare").await;
    assert!(
        answer.contains(r#""bold","text":"$30.00""#) && answer.contains("vs $30.00 (2026-11-01..2026-11-02)"),
        "three hours against three hours: {answer}"
    );
    assert!(!answer.contains("-87.5"), "never today's hours against a whole day: {answer}");
    assert!(answer.contains("Like for like: today until 03:00 UTC against 2026-11-01 until 03:00"), "{answer}");
    // A finished period is still compared whole.
    let answer = ask(store.clone(), "last month compare").await;
    assert!(answer.contains("$7,200.00") && !answer.contains("Like for like"), "{answer}");

    // Without hourly data, the 1st has no whole day to compare: nothing is compared.
    let source = AccountId::parse(ACCOUNT).unwrap();
    let range = DateRange::new(d("2026-11-01"), d("2026-12-02")).unwrap();
    let collected = "2026-12-01T03:30:00".parse().unwrap();
    store.replace_cost_facts(&source, Granularity::Hourly, &range, &[], collected).await.unwrap();
    let answer = ask(store.clone(), "mtd compare").await;
    assert!(answer.contains("Nothing to compare yet"), "{answer}");
    assert!(!answer.contains('▼') && !answer.contains('▲'), "no delta from a partial day: {answer}");
    // Last 7 days include today: the six whole days are compared with the six before them.
    let answer = ask(store, "last 7d compare").await;
    assert!(answer.contains(r#""bold","text":"$1,440.00""#) && answer.contains("vs $1,440.00 ("), "{answer}");
    assert!(answer.contains("Whole days only: 2026-11-25..2026-12-01 against 2026-11-18..2026-11-24"), "{answer}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_unfinished_period_compares_the_same_elapsed_part_on_postgres(pool: sqlx::PgPool) {
    check(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn an_unfinished_period_compares_the_same_elapsed_part_on_sqlite() {
    check(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}
