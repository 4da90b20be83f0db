//! `/cost` answers against a store with known data, on Postgres and on SQLite: every figure
//! is checked against a sum computed here, independently, from the generated facts.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use costbot::bot::Bot;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::{Account, AccountId, BreakdownDimension, BreakdownFact, DateRange, Granularity, Money};
use costbot::store::{DynStore, PgStore, SqliteStore};
use rust_decimal::Decimal;

use crate::support::{daily_facts, Fact};

const ACCOUNTS: [(&str, Option<&str>); 3] =
    [("111111111111", Some("prod")), ("222222222222", Some("staging")), ("333333333333", None)];
const SERVICES: [&str; 4] = [
    "Amazon Elastic Compute Cloud - Compute",
    "Amazon Simple Storage Service",
    "AWS Lambda",
    "Amazon Relational Database Service",
];

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Ten-decimal amounts that differ by day, account and service; Lambda is a flat
/// $10.0000000001 a day so the forecast has a known answer.
fn dataset() -> Vec<Fact> {
    let mut out = Vec::new();
    for day in d("2026-07-01").iter_days().take_while(|x| *x <= d("2026-11-25")) {
        for (a, (account, _)) in ACCOUNTS.iter().enumerate() {
            for (s, service) in SERVICES.iter().enumerate() {
                let amount = if *service == "AWS Lambda" {
                    "10.0000000001".parse().unwrap()
                } else {
                    let cents = 1_000 + (day.ordinal() as i64 * 37 + a as i64 * 1_301 + s as i64 * 7_919) % 50_000;
                    Decimal::new(cents * 100_000_000 + (day.ordinal() as i64 % 97), 10)
                };
                out.push(Fact { day, account, service, amount });
            }
        }
    }
    out
}

async fn load(store: &DynStore, facts: &[Fact]) {
    let accounts: Vec<Account> = ACCOUNTS
        .iter()
        .map(|(id, name)| Account { id: AccountId::parse(id).unwrap(), name: name.map(String::from), configured: true })
        .collect();
    store.upsert_accounts(&accounts).await.unwrap();
    let rows = daily_facts(facts, Some(d("2026-11-24")));
    let range = DateRange::new(d("2026-07-01"), d("2026-11-26")).unwrap();
    let source = AccountId::parse("111111111111").unwrap();
    store.replace_cost_facts(&source, Granularity::Daily, &range, &rows, now()).await.unwrap();
    for dimension in [BreakdownDimension::Region, BreakdownDimension::UsageType] {
        let rows: Vec<BreakdownFact> = facts
            .iter()
            .map(|f| BreakdownFact {
                granularity: Granularity::Daily,
                period_start: f.day.and_hms_opt(0, 0, 0).unwrap(),
                account: AccountId::parse(f.account).unwrap(),
                dimension,
                key: breakdown_key(f, dimension).to_string(),
                amount: Money::from_decimal(f.amount),
                estimated: false,
            })
            .collect();
        // Several services share a key on a day: sum them as Cost Explorer would.
        let mut merged: std::collections::BTreeMap<(NaiveDateTime, String, String), BreakdownFact> = Default::default();
        for row in rows {
            let key = (row.period_start, row.account.to_string(), row.key.clone());
            merged.entry(key).and_modify(|r| r.amount += row.amount).or_insert(row);
        }
        let rows: Vec<BreakdownFact> = merged.into_values().collect();
        store.replace_breakdowns(&source, Granularity::Daily, dimension, &range, &rows, now()).await.unwrap();
    }
}

/// S3 runs in us-east-1, everything else in eu-west-1; usage types follow the service.
fn breakdown_key(f: &Fact, dimension: BreakdownDimension) -> &'static str {
    match (dimension, f.service) {
        (BreakdownDimension::Region, "Amazon Simple Storage Service") => "us-east-1",
        (BreakdownDimension::Region, _) => "eu-west-1",
        (BreakdownDimension::UsageType, "AWS Lambda") => "Lambda-GB-Second",
        (BreakdownDimension::UsageType, _) => "BoxUsage",
        (BreakdownDimension::RecordType, _) => "Usage",
    }
}

fn now() -> NaiveDateTime {
    "2026-11-25T12:00:00".parse().unwrap()
}

fn sum(facts: &[Fact], from: &str, to: &str, keep: impl Fn(&Fact) -> bool) -> String {
    let total: Decimal = facts.iter().filter(|f| f.day >= d(from) && f.day <= d(to) && keep(f)).map(|f| f.amount).sum();
    Money::from_decimal(total).to_string()
}

async fn ask(bot: &Bot, text: &str) -> String {
    let actor = Actor {
        platform: Platform::Slack,
        user: UserId("U1".into()),
        roles: vec![],
        channel: ChannelId("CALL".into()),
    };
    let reply = bot.handle_at(Inbound::Command { actor, text: text.into(), follow_up: FollowUp::None }, now()).await;
    assert!(matches!(reply, Reply::InChannel(_)), "{text}: {reply:?}");
    serde_json::to_string(&reply).unwrap()
}

async fn check(store: DynStore) {
    let facts = dataset();
    load(&store, &facts).await;
    // Dozens of questions from one person in a moment: more than the default burst allows.
    let config = Config::from_toml(
        "[server]\nchat_burst_per_person = 1000\n[[channels]]\nplatform = \"slack\"\nid = \"CALL\"\n",
    )
    .unwrap();
    let bot = Bot::new(store, Arc::new(config));
    let all = |_: &Fact| true;
    let periods = [
        ("", "2026-11-01", "2026-11-25"),
        ("mtd", "2026-11-01", "2026-11-25"),
        ("today", "2026-11-25", "2026-11-25"),
        ("yesterday", "2026-11-24", "2026-11-24"),
        ("this week", "2026-11-23", "2026-11-25"),
        ("last week", "2026-11-16", "2026-11-22"),
        ("last 7d", "2026-11-19", "2026-11-25"),
        ("last 30d", "2026-10-27", "2026-11-25"),
        ("last 90d", "2026-08-28", "2026-11-25"),
        ("this month", "2026-11-01", "2026-11-30"),
        ("last month", "2026-10-01", "2026-10-31"),
        ("2026-09", "2026-09-01", "2026-09-30"),
        ("2026-10-01..2026-10-15", "2026-10-01", "2026-10-15"),
    ];
    for (text, from, to) in periods {
        let expected = sum(&facts, from, to, all);
        let answer = ask(&bot, text).await;
        assert!(answer.contains(&format!("\"text\":\"{expected}\"")), "`{text}` should total {expected}: {answer}");
    }

    let ec2 = |f: &Fact| f.service.ends_with("Compute");
    let answer = ask(&bot, "last month service=EC2").await;
    assert!(answer.contains(&sum(&facts, "2026-10-01", "2026-10-31", ec2)), "{answer}");
    let staging = |f: &Fact| f.account == "222222222222";
    let answer = ask(&bot, "mtd account=Staging by service").await;
    assert!(answer.contains(&sum(&facts, "2026-11-01", "2026-11-25", staging)), "{answer}");
    for service in SERVICES {
        let one = |f: &Fact| f.account == "222222222222" && f.service == service;
        assert!(answer.contains(&sum(&facts, "2026-11-01", "2026-11-25", one)), "{service}: {answer}");
    }

    // by account, with names, and top 2 folding the rest.
    let answer = ask(&bot, "last month by account top 2").await;
    let mut per_account: Vec<(Decimal, &str)> = ACCOUNTS
        .iter()
        .map(|(id, _)| (facts.iter().filter(|f| f.account == *id && f.day.month() == 10).map(|f| f.amount).sum(), *id))
        .collect();
    per_account.sort_by_key(|b| std::cmp::Reverse(b.0));
    assert!(answer.contains(&Money::from_decimal(per_account[0].0).to_string()), "{answer}");
    assert!(
        answer.contains("1 more") && answer.contains(&Money::from_decimal(per_account[2].0).to_string()),
        "{answer}"
    );
    assert!(answer.contains("prod (111111111111)") || answer.contains("staging (222222222222)"), "{answer}");

    // compare: month to date against the same days of last month, with the delta. There is no
    // hourly data, so today (partly collected) is left out of both sides, and the answer says so.
    let answer = ask(&bot, "mtd compare").await;
    let (now_total, before) =
        (sum(&facts, "2026-11-01", "2026-11-24", all), sum(&facts, "2026-10-01", "2026-10-24", all));
    assert!(
        answer.contains(&now_total) && answer.contains(&before) && (answer.contains('▲') || answer.contains('▼')),
        "{answer}"
    );
    assert!(answer.contains("Whole days only: 2026-11-01..2026-11-25 against 2026-10-01..2026-10-25"), "{answer}");
    // A finished period is compared whole.
    let answer = ask(&bot, "last month compare").await;
    let (then, before) = (sum(&facts, "2026-10-01", "2026-10-31", all), sum(&facts, "2026-09-01", "2026-09-30", all));
    assert!(answer.contains(&then) && answer.contains(&before) && !answer.contains("Whole days"), "{answer}");

    // by region and by usage type come from the breakdowns.
    let answer = ask(&bot, "last month by region").await;
    let us = |f: &Fact| breakdown_key(f, BreakdownDimension::Region) == "us-east-1";
    let eu = |f: &Fact| breakdown_key(f, BreakdownDimension::Region) == "eu-west-1";
    assert!(
        answer.contains(&sum(&facts, "2026-10-01", "2026-10-31", us))
            && answer.contains(&sum(&facts, "2026-10-01", "2026-10-31", eu)),
        "{answer}"
    );
    let answer = ask(&bot, "2026-09 by usage-type account=prod").await;
    let lambda_prod = |f: &Fact| f.account == "111111111111" && f.service == "AWS Lambda";
    assert!(answer.contains(&sum(&facts, "2026-09-01", "2026-09-30", lambda_prod)), "{answer}");

    // forecast: $10.0000000001 a day in one account: 30 days → $300.00; 24 complete days so far.
    let answer = ask(&bot, "forecast service=lambda account=prod").await;
    assert!(answer.contains("$300.00") && answer.contains("$240.00"), "{answer}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn every_answer_matches_independent_sums_on_postgres(pool: sqlx::PgPool) {
    check(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn every_answer_matches_independent_sums_on_sqlite() {
    check(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}

/// Answers are reused until the next collection finishes, then recomputed from the new facts.
#[tokio::test]
async fn a_new_collection_replaces_cached_answers() {
    use costbot::answers::Answers;
    use costbot::commands::{parse, Command};
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let facts = dataset();
    load(&store, &facts).await;
    let answers = Answers::with_lookup_ttl(store.clone(), std::time::Duration::ZERO);
    let Ok(Command::Report(report)) = parse("2026-10-01..2026-10-31") else { panic!("a report") };
    let today = now().date();
    let text = |m: &costbot::domain::chat::message::Message| costbot::render::text::plain(m);
    let first = answers.report(&report, None, today).await.unwrap();
    assert_eq!(text(&answers.report(&report, None, today).await.unwrap()), text(&first));

    // A collection restates October 1st: a run starts and finishes around the new facts.
    let run = store.start_run("collect-costs", now()).await.unwrap();
    let restated = vec![Fact {
        day: d("2026-10-01"),
        account: "111111111111",
        service: "AWS Lambda",
        amount: Decimal::new(123_456, 2),
    }];
    let range = DateRange::single_day(d("2026-10-01"));
    let source = AccountId::parse("111111111111").unwrap();
    store.replace_cost_facts(&source, Granularity::Daily, &range, &daily_facts(&restated, None), now()).await.unwrap();
    store.finish_run(run, now(), &[]).await.unwrap();

    let october: Decimal =
        facts.iter().filter(|f| f.day.month() == 10 && f.day != d("2026-10-01")).map(|f| f.amount).sum();
    let expected = Money::from_decimal(october + Decimal::new(123_456, 2)).to_string();
    let second = text(&answers.report(&report, None, today).await.unwrap());
    assert!(second.contains(&expected), "expected {expected} in\n{second}");
    assert_ne!(second, text(&first));
}
