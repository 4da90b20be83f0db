//! Replays: a captured signed request sent again, to the same or another `costbot serve` on
//! the same Postgres, reaches nothing; a Discord request older than five minutes is refused.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use costbot::store::{DynStore, PgStore};
use serde_json::Value;

use super::{config, discord_command, discord_post, serve, SLACK_SECRET};
use crate::discord::{key_pair, FakeDiscord};
use crate::slack::fake::{command_body, post_signed, FakeSlack};

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_discord_replay_and_a_slack_replay_to_a_second_serve_get_nothing(pool: sqlx::PgPool) {
    let slack = FakeSlack::start().await;
    let (_discord, discord_api) = FakeDiscord::start().await;
    let (key, public) = key_pair();
    let toml = config(&slack.api_url(), &discord_api, &public, "", "");
    let first: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    let second: DynStore = Arc::new(PgStore::from_pool(pool));
    let (a, b) = (serve(&toml, first).await, serve(&toml, second).await);
    let ts = Utc::now().timestamp();

    let body = command_body("help", &slack.response_url("replayed"), "t.replay");
    let answered = post_signed(&format!("{a}/slack/commands"), SLACK_SECRET, ts, &body, &[]).await;
    assert_eq!(answered.status(), 200);
    assert!(answered.text().await.unwrap().contains("/cost"), "the original is answered");
    let replayed = post_signed(&format!("{b}/slack/commands"), SLACK_SECRET, ts, &body, &[]).await;
    assert_eq!(replayed.status(), 200, "acknowledged, as a redelivery is");
    assert_eq!(replayed.text().await.unwrap(), "", "and answered with nothing");
    let same_replica = post_signed(&format!("{a}/slack/commands"), SLACK_SECRET, ts, &body, &[]).await;
    assert_eq!(same_replica.text().await.unwrap(), "");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(slack.received("/respond/replayed").is_empty(), "no late answer either");

    let command = discord_command("help");
    let answered = discord_post(&a, &key, ts, &command).await;
    assert_eq!(answered.status(), 200);
    let answered: Value = answered.json().await.unwrap();
    assert_eq!(answered["type"], 4, "{answered}");
    assert_eq!(discord_post(&b, &key, ts, &command).await.status(), 401, "replayed to the second serve");
    assert_eq!(discord_post(&a, &key, ts, &command).await.status(), 401, "replayed to the first");
}

#[tokio::test]
async fn a_discord_request_older_than_five_minutes_is_refused() {
    let slack = FakeSlack::start().await;
    let (_discord, discord_api) = FakeDiscord::start().await;
    let (key, public) = key_pair();
    let store: DynStore = Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap());
    let base = serve(&config(&slack.api_url(), &discord_api, &public, "", ""), store).await;
    let now = Utc::now().timestamp();
    let mut command = discord_command("help");
    command["id"] = serde_json::json!("786008729715212339");
    assert_eq!(discord_post(&base, &key, now - 6 * 60, &command).await.status(), 401, "captured six minutes ago");
    assert_eq!(discord_post(&base, &key, now + 6 * 60, &command).await.status(), 401, "signed in the future");
    assert_eq!(discord_post(&base, &key, now - 60, &command).await.status(), 200, "a minute late is fine");
}
