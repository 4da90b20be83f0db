//! Discord end to end: the real server (`App::serve_on`) on a loopback port, a real Postgres,
//! the simulated cloud, and a fake Discord API. Alerts are posted as embeds and edited in
//! place; a signed `/cost` interaction is answered from the store; a signed button click
//! reaches the bot and updates its card.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use chrono::{Datelike, Days, Utc};
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::{DateRange, Granularity};
use costbot::store::{PgStore, SpendGroup, SpendQuery};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::discord::{fixture, fresh_id, key_pair, FakeDiscord, APP_ID};

pub(crate) const CHANNEL: &str = "645027906669510667";
pub(crate) const USER: &str = "53908232506183680";

pub(crate) async fn post_signed(url: &str, key: &SigningKey, body: &Value) -> reqwest::Response {
    crate::discord::post_signed_at(url, key, Utc::now().timestamp(), body).await
}

pub(crate) fn command(query: &str) -> Value {
    let mut payload: Value =
        serde_json::from_str(&fixture("interaction.application_command.slash.discord-docs.json")).unwrap();
    payload["application_id"] = json!(APP_ID.to_string());
    payload["id"] = json!(fresh_id());
    payload["data"]["name"] = json!("cost");
    payload["data"]["options"] = json!([{ "type": 3, "name": "query", "value": query }]);
    payload
}

pub(crate) fn button(custom_id: &str) -> Value {
    let mut payload: Value =
        serde_json::from_str(&fixture("interaction.message_component.button.discord-docs.json")).unwrap();
    payload["application_id"] = json!(APP_ID.to_string());
    payload["id"] = json!(fresh_id());
    payload["channel_id"] = json!(CHANNEL);
    payload["data"]["custom_id"] = json!(custom_id);
    payload
}

/// A fake Discord, the key that signs interactions, and an app on the simulated cloud (120
/// days) that posts to `CHANNEL` (approver `USER`).
pub(crate) async fn discord_app(pool: sqlx::PgPool) -> (FakeDiscord, SigningKey, Arc<App>, chrono::NaiveDateTime) {
    crate::support::init();
    std::env::set_var("COSTBOT_TEST_DISCORD_TOKEN", "discord-test-token");
    let (fake, api) = FakeDiscord::start().await;
    let (key, public) = key_pair();
    let toml = format!(
        "[costs]\nsource = \"simulated\"\nbackfill_days = 120\nbreakdown_every_hours = 0\n\
         [discord]\nbot_token = {{ env = \"COSTBOT_TEST_DISCORD_TOKEN\" }}\napplication_id = \"{APP_ID}\"\n\
         public_key = \"{public}\"\napi_url = \"{api}\"\n\
         [[channels]]\nplatform = \"discord\"\nid = \"{CHANNEL}\"\nmin_severity = \"low\"\napprovers = [\"{USER}\"]\n"
    );
    let now = Utc::now().naive_utc();
    let store = Arc::new(PgStore::from_pool(pool));
    let app = Arc::new(App::with_store(Config::from_toml(&toml).unwrap(), store, now).await.unwrap());
    (fake, key, app, now)
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn alerts_commands_and_clicks_work_end_to_end(pool: sqlx::PgPool) {
    let (fake, key, app, now) = discord_app(pool).await;

    // Detection after collection posts one embed card per open anomaly.
    app.collect_and_detect(now, None, None).await.unwrap();
    let open = app.store.open_anomalies(Granularity::Daily).await.unwrap();
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path.ends_with(&format!("/channels/{CHANNEL}/messages")))
        .collect();
    assert!(!open.is_empty() && posts.len() == open.len(), "{} posts for {} anomalies", posts.len(), open.len());
    assert!(posts[0].body["embeds"][0]["title"].as_str().unwrap_or_default().starts_with("Cost "), "{}", posts[0].body);
    assert!(
        posts[0].body["components"][0]["components"].as_array().is_some_and(|b| !b.is_empty()),
        "buttons on the card"
    );
    assert_eq!(app.store.outbox_counts().await.unwrap().sent, open.len() as u64);

    let (base, stop, server) = crate::slack_e2e::serve(&app).await;
    let endpoint = format!("{base}/discord/interactions");

    // A signed /cost is answered from the store (type 4); a forged one is refused with 401.
    let answer: Value = post_signed(&endpoint, &key, &command("mtd")).await.json().await.unwrap();
    let today = now.date();
    let range = DateRange::new(today.with_day(1).unwrap(), today + Days::new(1)).unwrap();
    let query = SpendQuery { granularity: Granularity::Daily, range, accounts: None, services: None };
    let total = app.store.spend(&query, SpendGroup::Total).await.unwrap()[0].amount.to_string();
    assert_eq!(answer["type"], 4);
    assert!(answer.to_string().contains(&total), "{total} in {answer}");
    let (other_key, _) = key_pair();
    assert_eq!(post_signed(&endpoint, &other_key, &command("mtd")).await.status(), 401);

    // Acknowledge an anomaly: the clicked card updates (type 7) and the delivery loop edits
    // the posted card in place.
    let anomaly = &open[0];
    let clicked: Value = post_signed(&endpoint, &key, &button(&format!("ack:{}:{}", anomaly.id, anomaly.version)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clicked["type"], 7, "{clicked}");
    assert!(clicked.to_string().contains(&format!("acknowledged by discord:{USER}")), "{clicked}");
    let edit = fake
        .wait_for(Duration::from_secs(10), |r| {
            r.method == Method::PATCH && r.path.contains(&format!("/channels/{CHANNEL}/messages/"))
        })
        .await;
    assert!(edit.body.to_string().contains("acknowledged by discord"), "{}", edit.body);

    // Approve reaches the approval flow; an unknown proposal is refused, and said so.
    let approve: Value = post_signed(&endpoint, &key, &button("approve:pr-0000:1")).await.json().await.unwrap();
    assert!(approve.to_string().contains("does not exist"), "{approve}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn discord_register_sends_exactly_the_manifest() {
    let (fake, api) = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[discord]\nmode = \"gateway\"\nbot_token = {{ env = \"COSTBOT_TEST_DISCORD_TOKEN\" }}\napplication_id = \"{APP_ID}\"\napi_url = \"{api}\"\n"
    );
    std::fs::write(dir.path().join("c.toml"), toml).unwrap();
    let path = dir.path().to_path_buf();
    let run = move |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
            .args(["--config", "c.toml", "discord", "register"])
            .args(args)
            .current_dir(&path)
            .env("COSTBOT_TEST_DISCORD_TOKEN", "discord-test-token")
            .output()
            .unwrap()
    };
    let out = tokio::task::spawn_blocking(move || (run(&["--guild", "123456789"]), run(&[]))).await.unwrap();
    for (output, place) in [(&out.0, "in guild 123456789"), (&out.1, "globally")] {
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success() && text.contains(place), "{text}");
    }
    let manifest: Value = serde_json::from_str(costbot::chat::discord::commands::MANIFEST).unwrap();
    let puts: Vec<_> = fake.requests().into_iter().filter(|r| r.method == Method::PUT).collect();
    assert_eq!(puts.len(), 2);
    assert!(puts[0].path.ends_with(&format!("/applications/{APP_ID}/guilds/123456789/commands")), "{}", puts[0].path);
    assert!(puts[1].path.ends_with(&format!("/applications/{APP_ID}/commands")), "{}", puts[1].path);
    assert!(puts.iter().all(|p| p.body == manifest), "exactly the manifest's commands");
}
