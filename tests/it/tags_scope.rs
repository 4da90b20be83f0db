//! Spend by tag on both stores: restatement and exact filtering of the tag table, a
//! tag-scoped channel that never sees other teams (answers, digest, alerts), and per-tag
//! anomaly series.

use chrono::{NaiveDate, NaiveDateTime};
use costbot::bot::Bot;
use costbot::chat::dispatch::dispatch_alerts;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::detection::{Detection, DetectionSettings};
use costbot::digest::Digests;
use costbot::domain::anomaly::{Finding, Kind, Severity};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::incident::{reconcile, Scope, SeriesKey};
use costbot::domain::tags::{TagFact, TagKey};
use costbot::domain::{Account, AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, SpendQuery, TagGroup, TagQuery};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;

crate::store_contract::contract!(
    tag_spend_is_replaced_per_key_and_day_and_filtered_exactly,
    a_tag_scoped_channel_never_sees_other_teams,
    per_tag_series_find_a_teams_own_spike,
);

const PROD: &str = "111111111111";
const STAGING: &str = "222222222222";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn acct(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn now() -> NaiveDateTime {
    "2026-11-25T09:00:00".parse().unwrap()
}

fn row(day: NaiveDate, account: &str, key: &TagKey, value: &str, amount: Money) -> TagFact {
    TagFact {
        granularity: Granularity::Daily,
        period_start: day.and_hms_opt(0, 0, 0).unwrap(),
        account: acct(account),
        key: key.clone(),
        value: value.into(),
        amount,
        estimated: false,
    }
}

fn cents(c: i64) -> Money {
    Money::from_cents(c)
}

fn range(from: &str, to: &str) -> DateRange {
    DateRange::new(d(from), d(to)).unwrap()
}

fn query(key: &TagKey, r: DateRange, values: Option<Vec<&str>>, accounts: Option<Vec<&str>>) -> TagQuery {
    let spend = SpendQuery {
        granularity: Granularity::Daily,
        range: r,
        accounts: accounts.map(|a| a.into_iter().map(acct).collect()),
        services: None,
    };
    TagQuery { spend, key: key.clone(), values: values.map(|v| v.into_iter().map(String::from).collect()) }
}

async fn sums(store: &DynStore, q: &TagQuery, by: TagGroup) -> HashMap<String, Money> {
    let mut out = HashMap::new();
    for (_, r) in store.tag_matrix(q, by).await.unwrap() {
        *out.entry(r.key).or_insert(Money::ZERO) += r.amount;
    }
    out
}

async fn tag_spend_is_replaced_per_key_and_day_and_filtered_exactly(store: DynStore) {
    let team = TagKey::tag("team");
    let unit = TagKey::category("BusinessUnit");
    let tiny = Money::parse("0.0000000001").unwrap();
    let first = vec![
        row(d("2026-11-01"), PROD, &team, "payments", cents(1_000)),
        row(d("2026-11-01"), PROD, &team, "", tiny),
        row(d("2026-11-02"), PROD, &team, "payments", cents(2_000)),
        row(d("2026-11-02"), STAGING, &team, "search", tiny),
    ];
    let source = acct(PROD);
    store
        .replace_tag_facts(&source, Granularity::Daily, &team, &range("2026-11-01", "2026-11-03"), &first, now())
        .await
        .unwrap();
    let units = vec![row(d("2026-11-02"), PROD, &unit, "Retail", cents(3_000))];
    store
        .replace_tag_facts(&source, Granularity::Daily, &unit, &range("2026-11-02", "2026-11-03"), &units, now())
        .await
        .unwrap();
    let whole = range("2026-11-01", "2026-12-01");
    let all = sums(&store, &query(&team, whole, None, None), TagGroup::Value).await;
    assert_eq!(all["payments"], cents(3_000));
    assert_eq!((all[""], all["search"]), (tiny, tiny), "ten-decimal amounts stay exact");

    // Re-collecting Nov 2 replaces that day's values under this key only: search vanished.
    let again = vec![row(d("2026-11-02"), PROD, &team, "payments", cents(2_500))];
    store
        .replace_tag_facts(&source, Granularity::Daily, &team, &range("2026-11-02", "2026-11-03"), &again, now())
        .await
        .unwrap();
    let all = sums(&store, &query(&team, whole, None, None), TagGroup::Value).await;
    assert_eq!((all["payments"], all.get("search")), (cents(3_500), None));
    assert_eq!(all[""], tiny, "Nov 1 was not asked for, so it is kept");
    let retail = sums(&store, &query(&unit, whole, None, None), TagGroup::Total).await;
    assert_eq!(retail[""], cents(3_000), "another key's rows are untouched");

    // Filters: values, accounts, and an empty allow-list that selects nothing.
    let paying = sums(&store, &query(&team, whole, Some(vec!["payments"]), None), TagGroup::Account).await;
    assert_eq!(paying, HashMap::from([(PROD.to_string(), cents(3_500))]));
    assert!(store.tag_matrix(&query(&team, whole, Some(vec![]), None), TagGroup::Total).await.unwrap().is_empty());
    assert!(store
        .tag_matrix(&query(&team, whole, None, Some(vec![STAGING])), TagGroup::Total)
        .await
        .unwrap()
        .is_empty());
    let facts = store.tag_facts(&query(&team, whole, None, None)).await.unwrap();
    assert_eq!(facts.len(), 3, "Nov 1's two values and Nov 2's one: {facts:?}");
    assert!(store.last_tags_at(&source, &team).await.unwrap().is_some());
    assert!(store.last_tags_at(&acct(STAGING), &team).await.unwrap().is_none());
}

/// payments (PROD) and search (STAGING) every day from Sep 1 to Nov 24, with untagged spend
/// in PROD and a jump for payments on Nov 24; the cost facts are the same spend by service.
fn dataset() -> (Vec<TagFact>, Vec<CostFact>) {
    let team = TagKey::tag("team");
    let (mut tags, mut facts) = (Vec::new(), Vec::new());
    for (i, day) in d("2026-09-01").iter_days().take_while(|x| *x <= d("2026-11-24")).enumerate() {
        let i = i as i64;
        let payments = if day == d("2026-11-24") { cents(90_000) } else { cents(10_000 + (i * 7) % 500) };
        let search = cents(5_000 + (i * 3) % 400);
        let untagged = cents(2_000 + (i * 5) % 300);
        tags.push(row(day, PROD, &team, "payments", payments));
        tags.push(row(day, PROD, &team, "", untagged));
        tags.push(row(day, STAGING, &team, "search", search));
        let fact = |account: &str, service: &str, amount: Money| CostFact {
            granularity: Granularity::Daily,
            period_start: day.and_hms_opt(0, 0, 0).unwrap(),
            account: acct(account),
            service: ServiceName::parse(service).unwrap(),
            amount,
            unit: "USD".into(),
            estimated: false,
        };
        facts.push(fact(PROD, "AWS Lambda", payments + untagged));
        facts.push(fact(STAGING, "Amazon Simple Storage Service", search));
    }
    (tags, facts)
}

async fn load(store: &DynStore) -> Vec<TagFact> {
    let accounts = [(PROD, "prod"), (STAGING, "staging")].map(|(id, name)| Account {
        id: acct(id),
        name: Some(name.into()),
        configured: true,
    });
    store.upsert_accounts(&accounts).await.unwrap();
    let (tags, facts) = dataset();
    let r = range("2026-09-01", "2026-11-26");
    let source = acct(PROD);
    store.replace_cost_facts(&source, Granularity::Daily, &r, &facts, now()).await.unwrap();
    store.replace_tag_facts(&source, Granularity::Daily, &TagKey::tag("team"), &r, &tags, now()).await.unwrap();
    tags
}

const CHANNELS: &str = r#"
[costs]
tag_keys = ["team"]
[anomaly]
by_tags = ["team"]
[[channels]]
platform = "slack"
id = "CALL"
[[channels]]
platform = "slack"
id = "CPAY"
tags = { team = ["payments"] }
[[channels]]
platform = "slack"
id = "CPROD"
accounts = ["111111111111"]
"#;

fn spike(impact: i64) -> Finding {
    let at: NaiveDateTime = "2026-11-24T00:00:00".parse().unwrap();
    Finding {
        start: at,
        end: at,
        ongoing: true,
        expected: Decimal::from(100),
        actual: Decimal::from(100 + impact),
        impact: Decimal::from(impact),
        percent: Decimal::from(impact),
        score: 12.0,
        severity: Severity::High,
        kind: Kind::Spike,
        provisional: false,
        points: 1,
    }
}

fn tag_key(value: &str) -> SeriesKey {
    SeriesKey { granularity: Granularity::Daily, scope: Scope::Tag { key: TagKey::tag("team"), value: value.into() } }
}

async fn ask(bot: &Bot, channel: &str, text: &str) -> String {
    let actor = Actor {
        platform: Platform::Slack,
        user: UserId("U1".into()),
        roles: vec![],
        channel: ChannelId(channel.into()),
    };
    match bot.handle_at(Inbound::Command { actor, text: text.into(), follow_up: FollowUp::None }, now()).await {
        Reply::InChannel(m) | Reply::Ephemeral(m) => costbot::render::text::plain(&m),
        other => panic!("{other:?}"),
    }
}

fn sum_of(tags: &[TagFact], value: &str, from: &str, to: &str) -> Money {
    tags.iter()
        .filter(|t| t.value == value && t.period_start.date() >= d(from) && t.period_start.date() <= d(to))
        .map(|t| t.amount)
        .sum()
}

async fn a_tag_scoped_channel_never_sees_other_teams(store: DynStore) {
    let tags = load(&store).await;
    let config = Arc::new(Config::from_toml(CHANNELS).unwrap());
    let service = SeriesKey {
        granularity: Granularity::Daily,
        scope: Scope::Service { account: acct(PROD), service: ServiceName::parse("AWS Lambda").unwrap() },
    };
    let findings = vec![(tag_key("payments"), spike(800)), (tag_key("search"), spike(700)), (service, spike(600))];
    store.apply_anomaly_changes(&reconcile(&[], &findings, now()), now()).await.unwrap();

    // Answers.
    let bot = Bot::new(store.clone(), config.clone());
    let payments_mtd = sum_of(&tags, "payments", "2026-11-01", "2026-11-24");
    let search_mtd = sum_of(&tags, "search", "2026-11-01", "2026-11-24");
    let mtd = ask(&bot, "CPAY", "mtd").await;
    assert!(mtd.contains(&format!("Total {payments_mtd}")) && !mtd.contains(&search_mtd.to_string()), "{mtd}");
    let anomalies = ask(&bot, "CPAY", "anomalies").await;
    assert!(anomalies.contains("team = payments"), "{anomalies}");
    assert!(!anomalies.contains("search") && !anomalies.contains("AWS Lambda"), "{anomalies}");
    let forecast = ask(&bot, "CPAY", "forecast").await;
    assert!(forecast.contains("team = payments"), "{forecast}");
    assert!(ask(&bot, "CPAY", "offhours").await.contains("No"), "no account-level schedules");
    let everything = ask(&bot, "CALL", "mtd").await;
    assert!(everything.contains("Total"), "{everything}");
    // Like for like works on tag spend too: Nov 1–24 against Oct 1–24, whole days.
    let compared = ask(&bot, "CALL", "mtd by tag:team top 1 compare").await;
    let october = sum_of(&tags, "payments", "2026-10-01", "2026-10-24");
    assert!(compared.contains(&october.to_string()) && compared.contains("2 more"), "{compared}");

    // Alerts: each channel's outbox entries.
    dispatch_alerts(&store, &config.channels, now()).await.unwrap();
    let mut threads: HashMap<String, Vec<String>> = HashMap::new();
    while let Some(delivery) = store.claim_delivery(now(), chrono::Duration::minutes(5)).await.unwrap() {
        threads.entry(delivery.channel.0.clone()).or_default().push(delivery.message.fallback.clone());
    }
    assert_eq!(threads["CALL"].len(), 3, "{threads:?}");
    let pay = &threads["CPAY"];
    assert!(pay.len() == 1 && pay[0].contains("team = payments"), "{pay:?}");
    let prod = &threads["CPROD"];
    assert!(
        prod.len() == 1 && prod[0].contains("AWS Lambda"),
        "an account-scoped channel sees no org-wide tag series: {prod:?}"
    );

    // The digest: payments' spend by account, its own anomaly, nothing else.
    let digests = Digests::new(store.clone(), config.clone(), HashMap::new());
    let digest = digests.build(&config.channels[1], d("2026-11-25"), now(), None).await.unwrap();
    let text = costbot::render::text::plain(&digest);
    let yesterday = sum_of(&tags, "payments", "2026-11-24", "2026-11-24");
    assert!(text.contains("Only team = payments, by account") && text.contains(&yesterday.to_string()), "{text}");
    assert!(text.contains("Open anomalies: 1"), "{text}");
    for foreign in ["search", "AWS Lambda", "Amazon Simple Storage Service", "staging"] {
        assert!(!text.contains(foreign), "`{foreign}` in the payments digest:\n{text}");
    }
}

async fn per_tag_series_find_a_teams_own_spike(store: DynStore) {
    load(&store).await;
    let config = Config::from_toml(CHANNELS).unwrap();
    let settings = detection_settings(&config);
    let breakdown = Arc::new(costbot::sim::SimulatedCloud::demo(7, now()));
    let detection = Detection::new(store.clone(), breakdown, settings);
    let report = detection.run(d("2026-11-25").and_hms_opt(6, 0, 0).unwrap()).await.unwrap();
    let open = store.anomalies(true, 50).await.unwrap();
    let tagged: Vec<&SeriesKey> =
        open.iter().map(|a| &a.key).filter(|k| matches!(k.scope, Scope::Tag { .. })).collect();
    assert_eq!(tagged, vec![&tag_key("payments")], "{open:#?}");
    let payments = open.iter().find(|a| a.key == tag_key("payments")).unwrap();
    assert!(payments.impact > cents(50_000), "{payments:?}");
    // Its root cause ranks the accounts behind the value, from the store.
    assert!(format!("{:?}", payments.root_cause).contains(PROD), "{:?}", payments.root_cause);
    // Without by_tags the same data has no tag series at all.
    let plain = DetectionSettings { by_tags: Vec::new(), ..detection_settings(&config) };
    let again = Detection::new(store.clone(), Arc::new(costbot::sim::SimulatedCloud::demo(7, now())), plain);
    let before = again.run(d("2026-11-25").and_hms_opt(6, 0, 0).unwrap()).await.unwrap();
    assert!(before.series < report.series, "{before:?} vs {report:?}");
}

fn detection_settings(config: &Config) -> DetectionSettings {
    DetectionSettings {
        granularity: Granularity::Daily,
        lookback_days: config.anomaly.lookback_days,
        thresholds: config.anomaly.threshold_set(),
        by_tags: config.anomaly_tag_keys(),
        usage_only: config.anomaly.usage_only,
    }
}
