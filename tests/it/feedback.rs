//! Anomaly marks and feedback in the store: each mark commits with its alert event, its
//! feedback row and its audit record, or none of them does (on both stores); and a failing
//! audit append leaves the anomaly unchanged, through the store and through the bot.

use std::sync::Arc;

use costbot::bot::Bot;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::anomaly::Severity;
use costbot::domain::chat::message::{ActionRef, Verb};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::feedback::{precision, tuning, Verdict};
use costbot::domain::incident::{reconcile, Anomaly, AnomalyMark, EventKind};
use costbot::domain::{Granularity, Money};
use costbot::store::{DynStore, PgStore, SqliteStore};
use rust_decimal::Decimal;

use crate::store_contract::{at, contract, ec2_key, mark, spike};

contract!(a_verdict_commits_with_its_event_feedback_row_and_audit_record);

/// One open anomaly: a $300 EC2 spike on Nov 20.
async fn opened(store: &DynStore) -> Anomaly {
    let changes =
        reconcile(&[], &[(ec2_key(), spike("2026-11-20", "2026-11-20", 300, Severity::High))], at("2026-11-21"));
    store.apply_anomaly_changes(&changes, at("2026-11-21")).await.unwrap();
    store.open_anomalies(Granularity::Daily).await.unwrap().remove(0)
}

async fn a_verdict_commits_with_its_event_feedback_row_and_audit_record(store: DynStore) {
    let anomaly = opened(&store).await;
    assert!(store.anomaly_feedback(at("2026-01-01")).await.unwrap().is_empty());
    let verdict = AnomalyMark::Feedback { by: "person:ana".into(), verdict: Verdict::NotAnAnomaly };
    let (marked, entry) = store.mark_anomaly(&mark(&anomaly, verdict, at("2026-11-22"))).await.unwrap().unwrap();
    let (who, what) = marked.feedback.clone().unwrap();
    assert_eq!((who.by.as_str(), who.at, what), ("person:ana", at("2026-11-22"), Verdict::NotAnAnomaly));
    assert_eq!(marked.version, anomaly.version + 1);
    assert_eq!(store.anomaly(&anomaly.id).await.unwrap().unwrap(), marked, "the record round-trips");
    assert_eq!(store.audit_head().await.unwrap(), Some(entry.checkpoint()), "audited in the same change");
    let events = store.alert_events(0, 10).await.unwrap();
    assert_eq!(
        events.last().map(|e| (e.kind, e.version, e.actor.clone())),
        Some((EventKind::Feedback, marked.version, Some("person:ana".to_string())))
    );

    // The feedback row keeps the anomaly's figures, which is what detection acts on.
    let rows = store.anomaly_feedback(at("2026-11-01")).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.anomaly.clone(), row.key.clone(), row.verdict),
        (anomaly.id.clone(), ec2_key(), Verdict::NotAnAnomaly)
    );
    assert_eq!((row.impact, row.level, row.before), (anomaly.impact, Money::parse("400").unwrap(), anomaly.expected));
    assert_eq!(tuning(&rows)[&ec2_key()].floor, Some(Decimal::from(450)), "1.5 × the $300 impact");
    assert!(store.anomaly_feedback(at("2026-11-23")).await.unwrap().is_empty(), "only since the date asked");

    // A later verdict on the same anomaly replaces the row (the audit log keeps both).
    let real = AnomalyMark::Feedback { by: "slack:U2".into(), verdict: Verdict::Real };
    store.mark_anomaly(&mark(&marked, real, at("2026-11-23"))).await.unwrap().unwrap();
    let rows = store.anomaly_feedback(at("2026-11-01")).await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.verdict, r.by.as_str())).collect::<Vec<_>>(), [(Verdict::Real, "slack:U2")]);
    assert_eq!(precision(&rows, at("2026-11-01"))[0].real, 1);
    assert_eq!(store.audit_entries(0, 10).await.unwrap().len(), 2);
}

/// Checks that a mark whose audit append fails wrote nothing: not the anomaly, not its event,
/// not its feedback row.
async fn a_failed_mark_wrote_nothing(store: &DynStore, before: &Anomaly) {
    let verdict = AnomalyMark::Feedback { by: "person:ana".into(), verdict: Verdict::Expected };
    assert!(store.mark_anomaly(&mark(before, verdict, at("2026-11-22"))).await.is_err(), "the append failed");
    assert_eq!(&store.anomaly(&before.id).await.unwrap().unwrap(), before, "the anomaly is unchanged");
    let events = store.alert_events(0, 10).await.unwrap();
    assert!(events.iter().all(|e| e.kind == EventKind::Opened), "no event for it: {events:?}");
    assert!(store.anomaly_feedback(at("2026-01-01")).await.unwrap().is_empty(), "no feedback row");
    assert!(store.audit_entries(0, 10).await.unwrap().is_empty());
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn on_postgres_a_mark_whose_audit_fails_leaves_the_anomaly_unchanged(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    let anomaly = opened(&store).await;
    fail_audit_on_postgres(&pool).await;
    a_failed_mark_wrote_nothing(&store, &anomaly).await;
}

#[tokio::test]
async fn on_sqlite_a_mark_whose_audit_fails_leaves_the_anomaly_unchanged() {
    let sqlite = SqliteStore::in_memory().await.unwrap();
    let pool = sqlite.pool().clone();
    let store: DynStore = Arc::new(sqlite);
    let anomaly = opened(&store).await;
    sqlx::raw_sql(
        "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit storage failing'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    a_failed_mark_wrote_nothing(&store, &anomaly).await;
}

/// The audit log's storage fails for appends (as a full disk or a revoked privilege would);
/// the fault is in the database, so it strikes inside the mark's own transaction.
async fn fail_audit_on_postgres(pool: &sqlx::PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION fail_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit storage failing'; END; $$
         LANGUAGE plpgsql;
         CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_audit();",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// A bot for Slack channel `C1`, where only `U1` is an approver.
fn bot(store: &DynStore) -> Bot {
    let config = Config::from_toml("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"U1\"]\n").unwrap();
    Bot::new(store.clone(), Arc::new(config))
}

/// `user` clicks `verb` on the anomaly's card in `C1`.
async fn click(bot: &Bot, user: &str, verb: Verb, anomaly: &Anomaly) -> Reply {
    let actor =
        Actor { platform: Platform::Slack, user: UserId(user.into()), roles: vec![], channel: ChannelId("C1".into()) };
    let action = ActionRef { verb, target: anomaly.id.0.clone(), version: anomaly.version };
    bot.handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, at("2026-11-22")).await
}

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Ephemeral(m) | Reply::InChannel(m) | Reply::UpdateOriginal(m) => serde_json::to_string(m).unwrap(),
        Reply::Nothing => String::new(),
    }
}

#[tokio::test]
async fn only_approvers_silence_a_series_and_an_anomaly_takes_one_verdict() {
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let anomaly = opened(&store).await;
    let bot = bot(&store);
    // Expected and Not an anomaly silence future alerts: a non-approver is refused, and audited.
    for verb in [Verb::Expected, Verb::NotAnAnomaly] {
        let reply = click(&bot, "U2", verb, &anomaly).await;
        assert!(text(&reply).contains("not allowed"), "{verb:?}: {reply:?}");
    }
    assert!(store.anomaly_feedback(at("2026-01-01")).await.unwrap().is_empty());
    // Calling it real is for anyone in the channel.
    let reply = click(&bot, "U2", Verb::Real, &anomaly).await;
    assert!(
        matches!(reply, Reply::UpdateOriginal(_)) && text(&reply).contains("Confirmed real by slack:U2"),
        "{reply:?}"
    );
    // A second verdict, even an approver's, is refused and audited.
    let marked = store.anomaly(&anomaly.id).await.unwrap().unwrap();
    let reply = click(&bot, "U1", Verb::Expected, &marked).await;
    assert!(text(&reply).contains("slack:U2 already answered this one: real"), "{reply:?}");
    let actions: Vec<String> = store.audit_entries(0, 10).await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert_eq!(actions, ["click_refused", "click_refused", "anomaly_feedback_real", "click_refused"]);
    let rows = store.anomaly_feedback(at("2026-01-01")).await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.verdict, r.by.as_str())).collect::<Vec<_>>(), [(Verdict::Real, "slack:U2")]);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn an_acknowledgement_whose_audit_fails_is_not_saved_through_the_bot(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    let anomaly = opened(&store).await;
    let bot = bot(&store);
    fail_audit_on_postgres(&pool).await;
    for verb in [Verb::Ack, Verb::Mute, Verb::Real] {
        let reply = click(&bot, "U1", verb, &anomaly).await;
        assert!(
            matches!(reply, Reply::Ephemeral(_)) && text(&reply).contains("something went wrong"),
            "{verb:?}: {reply:?}"
        );
    }
    assert_eq!(store.anomaly(&anomaly.id).await.unwrap().unwrap(), anomaly, "nothing was saved");
    assert_eq!(store.alert_events(0, 10).await.unwrap().len(), 1, "no event, so no card went out either");
}
