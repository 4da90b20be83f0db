//! Budgets end to end on both stores (issue 20, item 2): thresholds and the forecast breach
//! alert once each across two replicas and a restart, `/cost budget set` is refused and
//! audited for a non-approver and stored, audited and used by an approver, `/cost budget`
//! answers in a scoped and an unscoped channel, and the digest's budgets line.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use costbot::answers::Answers;
use costbot::budgets::Budgets;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::outbox::DeliveryOutcome;
use costbot::domain::{Account, AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, Store};

use crate::store_contract::contract;

const PAYMENTS: &str = "111111111111";
const PLATFORM: &str = "222222222222";

contract!(
    a_budget_alerts_each_threshold_and_the_forecast_once_across_replicas_and_restarts,
    budget_set_is_refused_for_viewers_and_stored_and_used_for_approvers,
    budget_answers_follow_the_channels_scope,
    the_digest_has_a_budgets_line,
    amounts_and_alert_keys_are_kept_with_their_records,
    a_tag_scoped_channel_sees_only_its_teams_budgets,
);

fn config() -> Arc<Config> {
    let toml = format!(
        "[[accounts]]\nid = \"{PAYMENTS}\"\nname = \"payments\"\ncost_explorer = true\n\
         [[accounts]]\nid = \"{PLATFORM}\"\nname = \"platform\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\nname = \"finops\"\napprovers = [\"UBOSS\"]\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C2\"\nname = \"payments-team\"\naccounts = [\"{PAYMENTS}\"]\n\
         [[budgets]]\nname = \"payments\"\nscope = \"account=payments\"\namount = 2450\nchannels = [\"finops\", \"C2\"]\n\
         [[budgets]]\nname = \"platform\"\nscope = \"account=platform service=ec2\"\namount = \"100000\"\nchannels = [\"C1\"]\n"
    );
    let config = Config::from_toml(&toml).unwrap();
    costbot::budgets::check(&config).unwrap();
    Arc::new(config)
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t(s: &str) -> NaiveDateTime {
    s.parse().unwrap()
}

/// $100 a day on payments' EC2 and $10 on platform's, Oct 1 to `until`, that day estimated.
async fn load(store: &DynStore, until: &str) {
    let accounts = [PAYMENTS, PLATFORM].map(|id| Account {
        id: AccountId::parse(id).unwrap(),
        name: Some(if id == PAYMENTS { "payments" } else { "platform" }.into()),
        configured: true,
    });
    store.upsert_accounts(&accounts).await.unwrap();
    let facts: Vec<CostFact> = d("2026-10-01")
        .iter_days()
        .take_while(|x| *x <= d(until))
        .flat_map(|day| {
            [(PAYMENTS, "100"), (PLATFORM, "10")].map(|(account, amount)| CostFact {
                granularity: Granularity::Daily,
                period_start: day.and_hms_opt(0, 0, 0).unwrap(),
                account: AccountId::parse(account).unwrap(),
                service: ServiceName::parse("Amazon Elastic Compute Cloud - Compute").unwrap(),
                amount: Money::parse(amount).unwrap(),
                unit: "USD".into(),
                estimated: day == d(until),
            })
        })
        .collect();
    let range = DateRange::new(d("2026-10-01"), d(until) + chrono::Days::new(1)).unwrap();
    let payer = AccountId::parse(PAYMENTS).unwrap();
    store.replace_cost_facts(&payer, Granularity::Daily, &range, &facts, t("2026-11-20T06:00:00")).await.unwrap();
}

fn replica(store: &DynStore, config: &Arc<Config>, owner: &str) -> Budgets {
    let answers = Arc::new(Answers::with_lookup_ttl(store.clone(), std::time::Duration::ZERO));
    Budgets::new(store.clone(), answers, config.clone(), owner)
}

/// Both replicas check at `now`, at the same moment; the keys they fired, sorted.
async fn both(store: &DynStore, config: &Arc<Config>, now: &str) -> Vec<String> {
    let (a, b) = (replica(store, config, "replica-a"), replica(store, config, "replica-b"));
    let (ra, rb) = tokio::join!(a.run(t(now)), b.run(t(now)));
    let mut fired: Vec<String> = ra.unwrap().fired.into_iter().chain(rb.unwrap().fired).collect();
    fired.sort();
    fired
}

async fn actions(store: &DynStore, action: &str) -> Vec<costbot::domain::audit::AuditEntry> {
    store.all_audit_entries().await.unwrap().into_iter().filter(|e| e.record.action == action).collect()
}

/// Every queued message as (channel, thread, text), delivered so the next call sees new ones.
async fn drain(store: &DynStore) -> Vec<(String, String, String)> {
    let far = t("2027-01-01T00:00:00");
    let mut out = Vec::new();
    while let Some(delivery) = store.claim_delivery(far, Duration::seconds(60)).await.unwrap() {
        out.push((
            delivery.channel.0.clone(),
            delivery.thread.clone(),
            costbot::render::text::plain(&delivery.message),
        ));
        let sent = DeliveryOutcome::Sent { message_id: format!("ts-{}", delivery.id) };
        store.finish_delivery(&delivery, &sent, far).await.unwrap();
    }
    out.sort();
    out
}

async fn a_budget_alerts_each_threshold_and_the_forecast_once_across_replicas_and_restarts(store: Arc<impl Store>) {
    let store: DynStore = store;
    let config = config();
    load(&store, "2026-11-20").await;

    // Nov 20: $2,000 of $2,450 (81.6 %), and at $100 a day the month ends at $3,000.
    let fired = both(&store, &config, "2026-11-20T12:00:00").await;
    assert_eq!(fired, ["budget:payments:2026-11:80", "budget:payments:2026-11:forecast"]);
    assert_eq!(actions(&store, "budget_alerted").await.len(), 2, "one audit record per alert");
    let sent = drain(&store).await;
    let threads: Vec<(&str, &str)> = sent.iter().map(|(c, th, _)| (c.as_str(), th.as_str())).collect();
    assert_eq!(
        threads,
        [
            ("C1", "budget:payments:2026-11:80"),
            ("C1", "budget:payments:2026-11:forecast"),
            ("C2", "budget:payments:2026-11:80"),
            ("C2", "budget:payments:2026-11:forecast"),
        ],
        "each alert once in each of the budget's channels"
    );
    let forecast = &sent.iter().find(|(c, th, _)| c == "C1" && th.ends_with("forecast")).unwrap().2;
    assert!(forecast.contains("$3,000.00, 122.4 % of the $2,450.00 budget"), "{forecast}");
    assert!(forecast.contains("passes the budget on Nov 25"), "{forecast}");
    let threshold = &sent.iter().find(|(c, th, _)| c == "C1" && th.ends_with(":80")).unwrap().2;
    assert!(threshold.contains("80 % reached") && threshold.contains("$2,000.00 of $2,450.00"), "{threshold}");

    // The same replicas again, and two fresh ones as after a restart: nothing new.
    assert!(both(&store, &config, "2026-11-20T13:00:00").await.is_empty());
    assert!(both(&store, &config, "2026-11-21T01:00:00").await.is_empty(), "a restart fires nothing again");
    assert!(drain(&store).await.is_empty());
    let fired_rows = store.budget_alerts(d("2026-11-01")).await.unwrap();
    let kinds: Vec<&str> = fired_rows.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds.len(), 3, "80 and forecast fired, 50 passed with 80: {kinds:?}");
    assert!(kinds.contains(&"50"));
    let rows = replica(&store, &config, "replica-a")
        .rows(&costbot::budgets::Viewer::All, None, d("2026-11-21"))
        .await
        .unwrap();
    assert_eq!(rows[0].fired, ["80 % on Nov 20", "forecast on Nov 20"], "passed thresholds were never announced");

    // Nov 25: $2,500 spent, the budget is passed: the 100 % alert, once.
    load(&store, "2026-11-25").await;
    assert_eq!(both(&store, &config, "2026-11-25T12:00:00").await, ["budget:payments:2026-11:100"]);
    assert!(both(&store, &config, "2026-11-25T18:00:00").await.is_empty());
    assert_eq!(actions(&store, "budget_alerted").await.len(), 3);
    let chain = costbot::domain::audit::verify_chain(&store.all_audit_entries().await.unwrap());
    assert!(chain.is_ok(), "{chain:?}");
}

fn actor(user: &str, channel: &str) -> Actor {
    Actor { platform: Platform::Slack, user: UserId(user.into()), roles: vec![], channel: ChannelId(channel.into()) }
}

async fn ask(bot: &costbot::bot::Bot, user: &str, channel: &str, text: &str, now: &str) -> Reply {
    let event = Inbound::Command { actor: actor(user, channel), text: text.into(), follow_up: FollowUp::None };
    bot.handle_at(event, t(now)).await
}

fn text_of(reply: &Reply) -> String {
    match reply {
        Reply::Ephemeral(m) | Reply::InChannel(m) | Reply::UpdateOriginal(m) => costbot::render::text::plain(m),
        Reply::Nothing => String::new(),
    }
}

/// The store loaded through Nov 20, the configuration, and a bot over them.
async fn with_bot(store: Arc<impl Store>) -> (DynStore, Arc<Config>, costbot::bot::Bot) {
    let store: DynStore = store;
    let config = config();
    load(&store, "2026-11-20").await;
    let bot = costbot::bot::Bot::new(store.clone(), config.clone());
    (store, config, bot)
}

async fn budget_set_is_refused_for_viewers_and_stored_and_used_for_approvers(store: Arc<impl Store>) {
    let (store, config, bot) = with_bot(store).await;
    let now = "2026-11-20T09:00:00";

    let refused = ask(&bot, "UVIEW", "C1", "budget set payments 5000", now).await;
    assert!(matches!(refused, Reply::Ephemeral(_)), "{refused:?}");
    assert!(text_of(&refused).contains("Only this channel's approvers"), "{}", text_of(&refused));
    let refusals = actions(&store, "budget_set_refused").await;
    assert_eq!(refusals.len(), 1);
    assert_eq!((refusals[0].record.actor.as_str(), refusals[0].record.target.as_str()), ("slack:UVIEW", "payments"));
    assert!(store.budget_amounts().await.unwrap().is_empty(), "nothing stored");

    let unknown = ask(&bot, "UBOSS", "C1", "budget set nosuch 5000", now).await;
    assert!(text_of(&unknown).contains("No budget `nosuch`"), "{}", text_of(&unknown));

    let set = ask(&bot, "UBOSS", "C1", "budget set payments 5,000", now).await;
    assert!(matches!(set, Reply::InChannel(_)), "{set:?}");
    assert!(
        text_of(&set).contains("now $5,000.00 a month (was $2,450.00, from the configuration)"),
        "{}",
        text_of(&set)
    );
    let stored = store.budget_amounts().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].amount, stored[0].set_by.as_str()), (Money::parse("5000").unwrap(), "slack:UBOSS"));
    let changes = actions(&store, "budget_amount_set").await;
    assert_eq!(changes.len(), 1);
    assert!(changes[0].record.detail.contains("\"to\":\"5000\""), "{}", changes[0].record.detail);

    // At $5,000 the month's $3,000 forecast and $2,000 so far call for no alert.
    let budgets = replica(&store, &config, "replica-a");
    assert!(budgets.run(t("2026-11-20T12:00:00")).await.unwrap().fired.is_empty());
    let shown = text_of(&ask(&bot, "UVIEW", "C1", "budget payments", now).await);
    assert!(shown.contains("$2,000.00 of $5,000.00 (40 %)") && shown.contains("set by slack:UBOSS"), "{shown}");

    // Lowered below what is spent: the next check alerts at 100 %.
    ask(&bot, "UBOSS", "C1", "budget set payments 1900", now).await;
    let fired = budgets.run(t("2026-11-20T13:00:00")).await.unwrap().fired;
    assert_eq!(fired, ["budget:payments:2026-11:100"]);
}

async fn budget_answers_follow_the_channels_scope(store: Arc<impl Store>) {
    let (_, _, bot) = with_bot(store).await;
    let now = "2026-11-20T09:00:00";

    let all = text_of(&ask(&bot, "UVIEW", "C1", "budget", now).await);
    assert!(all.contains("Budgets (2)") && all.contains("payments") && all.contains("platform"), "{all}");
    // Platform: $10 a day of EC2, $200 so far of $100,000.
    assert!(all.contains("$200.00") && all.contains("$100,000.00"), "{all}");

    let scoped = text_of(&ask(&bot, "UVIEW", "C2", "budget", now).await);
    assert!(scoped.contains("Budgets (1)") && !scoped.contains("platform"), "{scoped}");
    let foreign = text_of(&ask(&bot, "UVIEW", "C2", "budget platform", now).await);
    let unknown = text_of(&ask(&bot, "UVIEW", "C2", "budget nosuch", now).await);
    assert_eq!(foreign.replace("platform", "X"), unknown.replace("nosuch", "X"), "a foreign budget is an unknown one");

    let one = text_of(&ask(&bot, "UVIEW", "C2", "budget payments", now).await);
    for expected in [
        "Budget payments: November 2026",
        "$2,000.00 of $2,450.00 (81.6 %)",
        "$100.00 a day",
        "$3,000.00 (122.4 %)",
        "Nov 25",
        "50 % reached · 80 % reached · 100 %",
    ] {
        assert!(one.contains(expected), "missing `{expected}` in\n{one}");
    }
}

async fn the_digest_has_a_budgets_line(store: Arc<impl Store>) {
    let store: DynStore = store;
    let config = config();
    load(&store, "2026-11-20").await;
    let digests = costbot::digest::Digests::new(store.clone(), config.clone(), HashMap::new());
    let line = |text: &str| text.lines().find(|l| l.contains("Budgets:")).map(str::to_string);

    let finops = digests.build(&config.channels[0], d("2026-11-20"), t("2026-11-20T09:00:00"), None).await.unwrap();
    let text = costbot::render::text::plain(&finops);
    assert_eq!(
        line(&text).as_deref(),
        Some("Budgets: payments 81.6 % of $2,450.00, forecast 122.4 % (crosses Nov 25) · platform 0.2 % of $100,000.00, forecast 0.3 %"),
        "{text}"
    );
    let team = digests.build(&config.channels[1], d("2026-11-20"), t("2026-11-20T09:00:00"), None).await.unwrap();
    let text = costbot::render::text::plain(&team);
    assert!(line(&text).is_some_and(|l| !l.contains("platform")), "{text}");
}

/// The store's side alone: an amount set twice is replaced (one record each time), an alert
/// key claimed twice writes once, and alerts are listed by month.
async fn amounts_and_alert_keys_are_kept_with_their_records(store: Arc<impl Store>) {
    use costbot::domain::budget::{AlertKind, BudgetAlert, BudgetName};
    use costbot::store::BudgetAmount;
    let store: DynStore = store;
    let name = BudgetName::parse("payments").unwrap();
    let record = |action: &str, at: &str| costbot::domain::audit::AuditRecord {
        at: t(at),
        actor: "slack:UBOSS".into(),
        action: action.into(),
        target: "payments".into(),
        channel: Some("C1".into()),
        detail: "{}".into(),
    };
    let first = BudgetAmount {
        budget: name.clone(),
        amount: Money::parse("12000.1234567891").unwrap(),
        set_by: "slack:UBOSS".into(),
        set_at: t("2026-11-02T10:00:00"),
    };
    store.set_budget_amount(&first, &record("budget_amount_set", "2026-11-02T10:00:00")).await.unwrap();
    assert_eq!(store.budget_amounts().await.unwrap(), std::slice::from_ref(&first), "exact to the last digit");
    let second = BudgetAmount { amount: Money::parse("9000").unwrap(), set_at: t("2026-11-03T10:00:00"), ..first };
    store.set_budget_amount(&second, &record("budget_amount_set", "2026-11-03T10:00:00")).await.unwrap();
    assert_eq!(store.budget_amounts().await.unwrap(), std::slice::from_ref(&second), "setting again replaces");

    let alert = BudgetAlert {
        kind: AlertKind::Threshold(80),
        key: "budget:payments:2026-11:80".into(),
        passed: vec!["budget:payments:2026-11:50".into()],
    };
    let entry = costbot::domain::outbox::OutboxEntry {
        platform: Platform::Slack,
        channel: ChannelId("C1".into()),
        thread: alert.key.clone(),
        message: costbot::domain::chat::message::Message::plain("80 %"),
        dedupe_key: format!("{}:slack:C1", alert.key),
    };
    let audit = record("budget_alerted", "2026-11-20T12:00:00");
    let month = d("2026-11-01");
    assert!(store.record_budget_alert(&name, month, &alert, std::slice::from_ref(&entry), &audit).await.unwrap());
    assert!(!store.record_budget_alert(&name, month, &alert, &[entry], &audit).await.unwrap(), "claimed before");
    let kinds: Vec<(String, bool)> =
        store.budget_alerts(month).await.unwrap().into_iter().map(|f| (f.kind, f.alerted)).collect();
    assert_eq!(kinds, [("50".to_string(), false), ("80".to_string(), true)], "the 80 % alert, 50 % passed with it");
    assert!(store.budget_alerts(d("2026-12-01")).await.unwrap().is_empty(), "alerts are per month");
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1, "one message queued");
    let actions: Vec<String> = store.all_audit_entries().await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert_eq!(actions, ["budget_amount_set", "budget_amount_set", "budget_alerted"], "one record per change");
}

#[test]
fn bad_scopes_stop_costbot_with_the_budgets_name() {
    let base = format!(
        "[[accounts]]\nid = \"{PAYMENTS}\"\nname = \"payments\"\ncost_explorer = true\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C2\"\naccounts = [\"{PAYMENTS}\"]\n"
    );
    for (budget, expected) in [
        ("scope = \"colour=blue\"\n", "[[budgets]] b: scope `colour=blue`: I don't know `colour=`"),
        ("scope = \"by service\"\n", "[[budgets]] b: scope `by service`"),
        ("scope = \"acount=payments\"\n", "I don't know `acount=` — did you mean `account=`?"),
        ("scope = \"\"\nchannels = [\"C2\"]\n", "channel `C2` may see only some accounts"),
        ("scope = \"account=222222222222\"\nchannels = [\"C2\"]\n", "channel `C2` may see only some accounts"),
    ] {
        let config = Config::from_toml(&format!("{base}[[budgets]]\nname = \"b\"\namount = 10\n{budget}")).unwrap();
        let error = costbot::budgets::check(&config).unwrap_err().to_string();
        assert!(error.contains(expected), "{budget}: {error}");
    }
}

/// The wiring: every collection checks the budgets, and their alerts reach the channel once.
#[tokio::test]
async fn each_collection_checks_the_budgets_and_posts_an_alert_once() {
    crate::support::init();
    let toml = "[costs]\nsource = \"simulated\"\nbackfill_days = 40\nbreakdown_every_hours = 0\n\
                [anomaly]\nenabled = false\n\
                [[channels]]\nplatform = \"console\"\nid = \"finops\"\n\
                [[budgets]]\nname = \"org\"\namount = \"0.01\"\nchannels = [\"finops\"]\n";
    let now = t("2026-11-20T12:00:00");
    let store: DynStore = Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap());
    let app = costbot::app::App::with_store(Config::from_toml(toml).unwrap(), store.clone(), now).await.unwrap();
    app.collect_and_detect(now, None, None).await.unwrap();
    app.collect_and_detect(now + Duration::hours(1), None, None).await.unwrap();
    let posted = store
        .console_messages(&ChannelId("finops".into()), &UserId("anyone".into()), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| costbot::render::text::plain(&m.message))
        .filter(|text| text.starts_with("Budget org"))
        .collect::<Vec<_>>();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].starts_with("Budget org: 100 % reached"), "{posted:?}");
    assert_eq!(actions(&store, "budget_alerted").await.len(), 1);
}

/// A channel scoped to `team = payments` sees only budgets scoped to that tag value, in its
/// answers and its digest; the account budgets (which sum other teams' spend) stay hidden
/// from it, and an account-scoped channel does not see the team's budget either.
async fn a_tag_scoped_channel_sees_only_its_teams_budgets(store: Arc<impl Store>) {
    let store: DynStore = store;
    let toml = format!(
        "[costs]\ntag_keys = [\"team\"]\n\
         [[accounts]]\nid = \"{PAYMENTS}\"\nname = \"payments\"\ncost_explorer = true\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\nname = \"finops\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C2\"\naccounts = [\"{PAYMENTS}\"]\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C3\"\ntags = {{ team = [\"payments\"] }}\n\
         [[budgets]]\nname = \"payments\"\nscope = \"account=payments\"\namount = 2450\nchannels = [\"C1\"]\n\
         [[budgets]]\nname = \"team-payments\"\nscope = \"tag:team=payments\"\namount = 900\nchannels = [\"C1\"]\n"
    );
    let config = Config::from_toml(&toml).unwrap();
    costbot::budgets::check(&config).unwrap();
    let config = Arc::new(config);
    load(&store, "2026-11-20").await;
    let bot = costbot::bot::Bot::new(store.clone(), config.clone());
    let now = "2026-11-20T09:00:00";

    let all = text_of(&ask(&bot, "UVIEW", "C1", "budget", now).await);
    assert!(all.contains("Budgets (2)") && all.contains("team-payments"), "{all}");
    let team = text_of(&ask(&bot, "UVIEW", "C3", "budget", now).await);
    assert!(team.contains("Budgets (1)") && team.contains("team-payments"), "{team}");
    assert!(!team.contains("$2,450.00"), "the account budget leaked into the team channel: {team}");
    let account = text_of(&ask(&bot, "UVIEW", "C2", "budget", now).await);
    assert!(!account.contains("team-payments"), "{account}");

    let digests = costbot::digest::Digests::new(store.clone(), config.clone(), HashMap::new());
    let digest = digests.build(&config.channels[2], d("2026-11-20"), t(now), None).await.unwrap();
    let text = costbot::render::text::plain(&digest);
    let line = text.lines().find(|l| l.contains("Budgets:")).unwrap_or_default().to_string();
    assert!(line.contains("team-payments") && !line.contains("$2,450.00"), "{text}");
}
