//! Slack end to end: the real server (`App::serve_on`) on a loopback port, a real Postgres,
//! the simulated cloud, and a fake Slack Web API. Alerts from the detector are posted and then
//! edited in place; a signed slash command is answered from the store; signed clicks reach
//! the bot and their replies arrive through response_url.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Days, Utc};
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::{DateRange, Granularity};
use costbot::store::{PgStore, SpendGroup, SpendQuery};
use serde_json::{json, Value};

use crate::slack::fake::{command_body, data, interaction_body, post_signed, Answer, FakeSlack};

pub(crate) const SECRET: &str = "e2e-signing-secret";

pub(crate) fn click(action: &str, response_url: &str) -> String {
    let mut payload: Value =
        serde_json::from_str(&data("block_actions.button.message-container.bolt-python.json")).unwrap();
    payload["actions"][0]["action_id"] = json!(action);
    payload["channel"]["id"] = json!("C1");
    payload["container"]["channel_id"] = json!("C1");
    payload["container"]["message_ts"] = json!("100.1");
    payload["user"]["id"] = json!("U1");
    payload["response_url"] = json!(response_url);
    interaction_body(&payload)
}

/// A fake Slack whose `chat.postMessage` answers give each card its own ts (`100.N`), and an
/// app on the simulated cloud (120 days) that posts to its channel `C1` (approver `U1`).
pub(crate) async fn slack_app(pool: sqlx::PgPool) -> (FakeSlack, Arc<App>, chrono::NaiveDateTime) {
    crate::support::init();
    std::env::set_var("COSTBOT_TEST_SLACK_TOKEN", "xoxb-test-token");
    std::env::set_var("COSTBOT_TEST_SLACK_SECRET", SECRET);
    let fake = FakeSlack::start().await;
    // Real chat.postMessage answers carry the posted message; each card gets its own ts.
    let posts = (1..=30)
        .map(|i| Answer::ok(json!({"ok": true, "channel": "C1", "ts": format!("100.{i}"), "message": {"ts": format!("100.{i}"), "text": "posted"}})))
        .collect();
    fake.script("/api/chat.postMessage", posts);
    let toml = format!(
        "[costs]\nsource = \"simulated\"\nbackfill_days = 120\nbreakdown_every_hours = 0\n\
         [slack]\nbot_token = {{ env = \"COSTBOT_TEST_SLACK_TOKEN\" }}\n\
         signing_secrets = [{{ env = \"COSTBOT_TEST_SLACK_SECRET\" }}]\napi_url = \"{}\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\nmin_severity = \"low\"\napprovers = [\"U1\"]\n",
        fake.api_url()
    );
    let now = Utc::now().naive_utc();
    let store = Arc::new(PgStore::from_pool(pool));
    let app = Arc::new(App::with_store(Config::from_toml(&toml).unwrap(), store, now).await.unwrap());
    (fake, app, now)
}

/// The app's real server on a loopback port: its base URL, the switch that stops it, and
/// the task to await after stopping.
pub(crate) async fn serve(
    app: &Arc<App>,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.clone().serve_on(listener, async move {
        let _ = stopped.await;
    }));
    (base, stop, server)
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn alerts_commands_and_clicks_work_end_to_end(pool: sqlx::PgPool) {
    let (fake, app, now) = slack_app(pool).await;

    // Detection after collection posts one card per open anomaly into the channel.
    let (_, report) = app.collect_and_detect(now, None, None).await.unwrap();
    let open = app.store.open_anomalies(Granularity::Daily).await.unwrap();
    assert!(report.unwrap().opened >= 1 && !open.is_empty());
    let posted = fake.received("/api/chat.postMessage");
    assert_eq!(posted.len(), open.len(), "one card per anomaly");
    let counts = app.store.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.failed, counts.pending), (open.len() as u64, 0, 0), "every card was delivered");
    let first_post = String::from_utf8_lossy(&posted[0].body).to_string();
    assert!(first_post.contains("C1") && first_post.contains("blocks"), "{first_post}");

    // The real server on a loopback port.
    let (base, stop, server) = serve(&app).await;
    let ts = Utc::now().timestamp();

    // A signed slash command gets its answer from the store; an unsigned one gets 401.
    let body = command_body("mtd", &fake.response_url("cmd"), "t.1");
    let answer: Value =
        post_signed(&format!("{base}/slack/commands"), SECRET, ts, &body, &[]).await.json().await.unwrap();
    let today = now.date();
    let range = DateRange::new(today.with_day(1).unwrap(), today + Days::new(1)).unwrap();
    let query = SpendQuery { granularity: Granularity::Daily, range, accounts: None, services: None };
    let total = app.store.spend(&query, SpendGroup::Total).await.unwrap()[0].amount.to_string();
    assert_eq!(answer["response_type"], "in_channel");
    assert!(answer.to_string().contains(&total), "{total} in {answer}");
    let forged = post_signed(&format!("{base}/slack/commands"), "not-the-secret", ts, &body, &[]).await;
    assert_eq!(forged.status(), 401);

    // Acknowledge the first anomaly: the clicked card is replaced through response_url, and
    // the delivery loop edits the posted card in place (chat.update on its ts).
    let anomaly = &open[0];
    let ack = format!("ack:{}:{}", anomaly.id, anomaly.version);
    let clicked =
        post_signed(&format!("{base}/slack/interactions"), SECRET, ts, &click(&ack, &fake.response_url("ack")), &[])
            .await;
    assert_eq!(clicked.status(), 200);
    let replaced = fake.wait_for("/respond/ack", Duration::from_secs(10)).await.expect("the click's reply").json();
    assert_eq!(replaced["replace_original"], true);
    assert!(replaced.to_string().contains("acknowledged by slack:U1"), "{replaced}");
    let update = fake.wait_for("/api/chat.update", Duration::from_secs(10)).await.expect("the card is edited in place");
    let update = String::from_utf8_lossy(&update.body).to_string();
    assert!(update.contains("acknowledged by slack:U1") && update.contains("\"ts\":\"100."), "{update}");
    assert_eq!(fake.received("/api/chat.postMessage").len(), open.len(), "edited, not posted again");

    // Approve reaches the approval flow; an unknown proposal is refused, and said so.
    let approve = click("approve:pr-0000:1", &fake.response_url("approve"));
    assert_eq!(post_signed(&format!("{base}/slack/interactions"), SECRET, ts, &approve, &[]).await.status(), 200);
    let note = fake.wait_for("/respond/approve", Duration::from_secs(10)).await.expect("a reply").json();
    assert!(note.to_string().contains("does not exist"), "{note}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_outbox_delivers_once_through_slack_rate_limits_and_outages(pool: sqlx::PgPool) {
    use costbot::chat::outbox::OutboxWorker;
    use costbot::chat::slack::SlackSender;
    use costbot::chat::Sender;
    use costbot::domain::chat::message::Message;
    use costbot::domain::chat::{ChannelId, Platform};
    use costbot::domain::outbox::OutboxEntry;
    use costbot::store::DynStore;
    use secrecy::SecretString;

    crate::support::init();
    let fake = FakeSlack::start().await;
    // Slack answers 429 (Retry-After 30 s: longer than the sender waits in-process), then 500
    // three times, then accepts.
    let mut answers = vec![Answer::rate_limited(30)];
    answers.extend((0..3).map(|_| Answer::status(500, json!({"ok": false, "error": "internal_error"}))));
    answers
        .push(Answer::ok(json!({"ok": true, "channel": "C1", "ts": "200.1", "message": {"ts": "200.1", "text": "x"}})));
    fake.script("/api/chat.postMessage", answers);
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let sender: Arc<dyn Sender> =
        Arc::new(SlackSender::new(SecretString::from("xoxb-t"), Some(&fake.api_url())).unwrap());
    let worker = OutboxWorker::new(store.clone(), [(Platform::Slack, sender)].into());
    let entry = OutboxEntry {
        platform: Platform::Slack,
        channel: ChannelId("C1".into()),
        thread: "an-retry".into(),
        message: Message::plain("cost spike"),
        dedupe_key: "an-retry:v1".into(),
    };
    let t0 = Utc::now().naive_utc();
    store.enqueue(&[entry], t0).await.unwrap();
    worker.drain_at(t0).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1, "rate limited: kept for later");
    assert_eq!(worker.drain_at(t0 + chrono::Duration::seconds(10)).await.unwrap(), 0, "Retry-After (30 s) is honoured");
    // After the wait: three 500s (one attempt and the sender's two quick retries), kept again.
    worker.drain_at(t0 + chrono::Duration::minutes(1)).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1, "Slack outage: kept for later");
    worker.drain_at(t0 + chrono::Duration::hours(1)).await.unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.pending, counts.failed), (1, 0, 0));
    assert_eq!(fake.received("/api/chat.postMessage").len(), 5, "429, three 500s, then one successful post");
    worker.drain_at(t0 + chrono::Duration::hours(2)).await.unwrap();
    assert_eq!(fake.received("/api/chat.postMessage").len(), 5, "nothing is posted again once sent");
}
