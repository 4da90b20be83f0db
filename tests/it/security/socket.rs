//! Socket Mode draws the same workspace boundary as HTTP: a command or click naming a
//! workspace (or a click naming an app) costbot is not configured for is refused and audited,
//! through the whole `costbot serve` with a fake Slack and a fake Socket Mode websocket.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use costbot::app::App;
use costbot::config::Config;
use costbot::store::{DynStore, SqliteStore};
use serde_json::{json, Value};

use super::config;
use crate::discord::{key_pair, FakeDiscord};
use crate::slack::api::{command_envelope, fake_socket};
use crate::slack::fake::{data, Answer, FakeSlack};

/// A Socket Mode envelope carrying a click on an Acknowledge button from `team` for `app`.
fn click_envelope(id: &str, team: &str, app: &str, response_url: &str) -> Value {
    let mut payload: Value =
        serde_json::from_str(&data("block_actions.button.message-container.bolt-python.json")).unwrap();
    payload["actions"][0]["action_id"] = json!("ack:an-0000:1");
    payload["channel"]["id"] = json!("C1");
    payload["container"]["channel_id"] = json!("C1");
    payload["team"]["id"] = json!(team);
    payload["api_app_id"] = json!(app);
    payload["user"]["id"] = json!("U1");
    payload["response_url"] = json!(response_url);
    json!({"type": "interactive", "envelope_id": id, "accepts_response_payload": false, "payload": payload})
}

#[tokio::test]
async fn a_foreign_team_id_or_app_over_socket_mode_is_refused_and_audited() {
    crate::support::init();
    let slack = FakeSlack::start().await;
    let (_discord, discord_api) = FakeDiscord::start().await;
    let (_, public) = key_pair();
    std::env::set_var("COSTBOT_SEC_SLACK_APP_TOKEN", "xapp-security-test");
    let socket = "mode = \"socket\"\napp_token = { env = \"COSTBOT_SEC_SLACK_APP_TOKEN\" }\n\
                  team_ids = [\"T1\"]\napp_ids = [\"A1\"]";
    let toml = config(&slack.api_url(), &discord_api, &public, socket, "");
    let envelopes = vec![
        command_envelope("env-foreign", "T9", "C1", "help", &slack.response_url("t9")),
        command_envelope("env-ours", "T1", "C1", "help", &slack.response_url("t1")),
        click_envelope("env-click-t9", "T9", "A1", &slack.response_url("click-t9")),
        click_envelope("env-click-a2", "T1", "A2", &slack.response_url("click-a2")),
    ];
    let (ws_url, acked) = fake_socket(envelopes).await;
    slack.script("/api/apps.connections.open", vec![Answer::ok(json!({"ok": true, "url": ws_url}))]);
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let app = Arc::new(
        App::with_store(Config::from_toml(&toml).unwrap(), store.clone(), Utc::now().naive_utc()).await.unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_on(listener, async move {
        let _ = stopped.await;
    }));

    let acks = tokio::time::timeout(Duration::from_secs(30), acked).await.expect("all acknowledged").unwrap();
    let text = |ack: &Value| ack["payload"]["text"].as_str().unwrap_or_default().to_string();
    assert!(text(&acks[0]).contains("This workspace is not set up for costbot"), "{:?}", acks[0]);
    assert_eq!(text(&acks[1]), "costbot commands", "our workspace is answered: {:?}", acks[1]);
    assert_eq!(acks[2]["envelope_id"], "env-click-t9", "a refused click is still acknowledged");
    assert_eq!(
        super::refusals(&store).await,
        [
            "slack workspace T9 is not configured",
            "slack workspace T9 is not configured",
            "slack app A2 is not configured"
        ],
        "every refusal is audited"
    );
    assert!(slack.received("/respond/click-t9").is_empty(), "nothing is sent to a refused clicker");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
