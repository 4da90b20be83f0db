//! Spend by tag and cost category through the collector: the real AWS SDK against moto's
//! Cost Explorer (tag-grouped results seeded through moto's API; moto does not interpret
//! GroupBy, it hands each new request body the next queued result), into Postgres, and
//! answered by the bot.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDateTime;
use costbot::app::App;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::run::RunStatus;
use costbot::domain::tags::TagKey;
use costbot::domain::{DateRange, Granularity, Money};
use costbot::store::{FactFilter, PgStore, SpendQuery, TagGroup, TagQuery};
use serde_json::{json, Value};

use crate::support::{ce_response, Moto, Row, EXTERNAL_ID_ENV};

const PAYER: &str = "123456789012";
const LINKED: &str = "222222222222";
const OTHER: &str = "210987654321";
const DAY: &str = "2026-11-24";

fn now() -> NaiveDateTime {
    "2026-11-25T12:00:00".parse().unwrap()
}

/// A GetCostAndUsage response grouped by LINKED_ACCOUNT and a tag or cost category, with
/// Cost Explorer's `key$value` group keys.
fn tag_response(kind: &str, key: &str, rows: Vec<Row<'_>>) -> Value {
    let mut response = ce_response(&[(DAY, rows)], None, None);
    response["GroupDefinitions"] =
        json!([{ "Type": "DIMENSION", "Key": "LINKED_ACCOUNT" }, { "Type": kind, "Key": key }]);
    response
}

fn config(endpoint: &str) -> Config {
    Config::from_toml(&format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 3\n\
         [costs]\nbackfill_days = 1\nbreakdown_every_hours = 0\ntag_keys = [\"team\"]\ncost_categories = [\"BusinessUnit\"]\n\
         [[accounts]]\nid = \"{PAYER}\"\nname = \"payer\"\ncost_explorer = true\n\
         [[accounts]]\nid = \"{OTHER}\"\nname = \"other-org\"\ncost_explorer = true\n\
         role_arn = \"arn:aws:iam::{OTHER}:role/costbot-read\"\nexternal_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n\
         [[channels]]\nplatform = \"slack\"\nid = \"CALL\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"CPAY\"\ntags = {{ team = [\"payments\"] }}\n"
    ))
    .unwrap()
}

/// A question from a new person each time, so the per-person rate limit never answers instead.
fn ask(text: &str, channel: &str) -> Inbound {
    static PEOPLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let user = UserId(format!("U{}", PEOPLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    let actor = Actor { platform: Platform::Slack, user, roles: vec![], channel: ChannelId(channel.into()) };
    Inbound::Command { actor, text: text.into(), follow_up: FollowUp::None }
}

async fn answer(app: &App, channel: &str, text: &str) -> String {
    let reply = app.bot.handle_at(ask(text, channel), now()).await;
    let message = match &reply {
        Reply::InChannel(m) | Reply::Ephemeral(m) => m.clone(),
        other => panic!("unexpected reply {other:?}"),
    };
    costbot::render::text::plain(&message)
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

/// Every value's spend in November under a key, summed by the store.
async fn by_value(app: &App, key: TagKey) -> BTreeMap<String, Money> {
    let range = DateRange::new("2026-11-01".parse().unwrap(), "2026-12-01".parse().unwrap()).unwrap();
    let spend = SpendQuery { granularity: Granularity::Daily, range, accounts: None, services: None };
    let rows = app.store.tag_matrix(&TagQuery { spend, key, values: None }, TagGroup::Value).await.unwrap();
    let mut sums = BTreeMap::new();
    for (_, row) in rows {
        *sums.entry(row.key).or_insert(Money::ZERO) += row.amount;
    }
    sums
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn tag_spend_costs_one_request_per_payer_and_key_and_adds_up_to_the_facts(pool: sqlx::PgPool) {
    let moto = Moto::start().await;
    let facts = vec![
        (PAYER, "Amazon Simple Storage Service", "12.5"),
        (PAYER, "AWS Lambda", "30"),
        (LINKED, "Amazon EC2", "7.5"),
    ];
    let facts_again = facts.clone();
    moto.seed_cost_and_usage(
        PAYER,
        vec![
            ce_response(&[(DAY, facts)], None, None),
            tag_response(
                "TAG",
                "team",
                vec![(PAYER, "team$payments", "30"), (PAYER, "team$", "12.5"), (LINKED, "team$search", "7.5")],
            ),
            tag_response(
                "COST_CATEGORY",
                "BusinessUnit",
                vec![(PAYER, "BusinessUnit$Retail", "42.5"), (LINKED, "BusinessUnit$", "7.5")],
            ),
            // The usage-only query for detection comes last (moto ignores its filter).
            ce_response(&[(DAY, facts_again)], None, None),
        ],
    )
    .await;
    moto.seed_cost_and_usage(
        OTHER,
        vec![
            ce_response(&[(DAY, vec![(OTHER, "Amazon Simple Storage Service", "5")])], None, None),
            tag_response("TAG", "team", vec![(OTHER, "team$payments", "5")]),
            tag_response("COST_CATEGORY", "BusinessUnit", vec![(OTHER, "BusinessUnit$Retail", "5")]),
            ce_response(&[(DAY, vec![(OTHER, "Amazon Simple Storage Service", "5")])], None, None),
        ],
    )
    .await;
    let store = Arc::new(PgStore::from_pool(pool));
    let app = App::with_store(config(&moto.url), store, now()).await.unwrap();

    let run = app.collector.run(now().date(), None, None).await.unwrap();
    // Two payers × (the facts and usage queries + one query per key): proportional to payers × keys.
    assert_eq!((run.status, run.api_calls), (RunStatus::Succeeded, 2 * (2 + 2)), "{run:?}");
    assert!(costbot::cli::describe_run(&run).contains("8 Cost Explorer requests ($0.08)"));

    let whole = FactFilter {
        granularity: Granularity::Daily,
        range: DateRange::new("2026-11-01".parse().unwrap(), "2026-12-01".parse().unwrap()).unwrap(),
        accounts: None,
    };
    let facts_total = app.store.total(&whole).await.unwrap();
    assert_eq!(facts_total, money("55"));
    let team = by_value(&app, TagKey::tag("team")).await;
    let expected: BTreeMap<String, Money> = [("payments", "35"), ("search", "7.5"), ("", "12.5")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), money(v)))
        .collect();
    assert_eq!(team, expected, "untagged spend is its own value");
    assert_eq!(team.values().copied().sum::<Money>(), facts_total, "a key's values add up to the facts");
    let unit = by_value(&app, TagKey::category("BusinessUnit")).await;
    assert_eq!(unit.values().copied().sum::<Money>(), facts_total);
    assert_eq!(unit.get(""), Some(&money("7.5")));

    // The bot answers from what landed.
    let by_team = answer(&app, "CALL", "mtd by tag:team").await;
    assert!(by_team.contains("(no team tag)") && by_team.contains("$12.50"), "{by_team}");
    assert!(by_team.contains("23 % of spend has no team tag."), "12.5 of 55 is 22.7 %: {by_team}");
    let by_unit = answer(&app, "CALL", "mtd by category:BusinessUnit").await;
    assert!(by_unit.contains("14 % of spend has no BusinessUnit category."), "{by_unit}");
    assert!(answer(&app, "CALL", "mtd team=payments").await.contains("Total $35.00"));
    assert!(answer(&app, "CALL", "mtd tag:team=search").await.contains("Total $7.50"));
    assert!(answer(&app, "CALL", "mtd category:BusinessUnit=Retail").await.contains("Total $47.50"));
    let owner = answer(&app, "CALL", "mtd by tag:owner").await;
    assert!(owner.contains("does not collect spend by tag `owner`"), "{owner}");

    // The payments channel sees payments' spend only, in every answer.
    let mtd = answer(&app, "CPAY", "mtd").await;
    assert!(mtd.contains("Total $35.00") && mtd.contains("team = payments"), "{mtd}");
    let accounts = answer(&app, "CPAY", "mtd by account").await;
    assert!(accounts.contains("$30.00") && accounts.contains("$5.00") && !accounts.contains("$7.50"), "{accounts}");
    let teams = answer(&app, "CPAY", "mtd by tag:team").await;
    assert!(!teams.contains("search") && !teams.contains("no team tag"), "{teams}");
    let other = answer(&app, "CPAY", "mtd team=search").await;
    let unknown = answer(&app, "CPAY", "mtd team=nobody").await;
    assert_eq!(other.replace("search", "X"), unknown.replace("nobody", "X"), "another team reads as an unknown one");
    let services = answer(&app, "CPAY", "mtd by service").await;
    assert!(services.contains("cannot be broken down by service") && !services.contains('$'), "{services}");
}
