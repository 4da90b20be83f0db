//! `SlackSender` against a fake Slack Web API (success, rate limits, outages, permanent errors,
//! response_url follow-ups), and Socket Mode against a fake `apps.connections.open` plus a
//! local websocket server.

use std::time::{Duration, Instant};

use costbot::chat::slack::{run_socket_mode, SlackSender};
use costbot::chat::{FollowUp, Reply, SendError, Sender};
use costbot::domain::chat::message::Message;
use costbot::domain::chat::{ChannelId, MessageRef};
use futures::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::fake::{Answer, CountingHandler, FakeSlack};

const POST: &str = "/api/chat.postMessage";

async fn sender(fake: &FakeSlack) -> SlackSender {
    crate::support::init();
    SlackSender::new(SecretString::from("xoxb-test-token"), Some(&fake.api_url())).unwrap()
}

#[tokio::test]
async fn posts_and_updates_with_the_bot_token_and_rendered_blocks() {
    let fake = FakeSlack::start().await;
    let sender = sender(&fake).await;
    let at = sender.post(&ChannelId("C1".into()), &Message::plain("hello <world>")).await.unwrap();
    assert_eq!(at, MessageRef { channel: ChannelId("C1".into()), id: "1.2".into() });
    let posted = &fake.received(POST)[0];
    assert_eq!(posted.headers["authorization"], "Bearer xoxb-test-token");
    let body = posted.json();
    assert_eq!((body["channel"].as_str(), body["text"].as_str()), (Some("C1"), Some("hello &lt;world&gt;")));
    assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");

    sender.update(&at, &Message::plain("edited")).await.unwrap();
    let updated = fake.received("/api/chat.update")[0].json();
    assert_eq!(
        (updated["channel"].as_str(), updated["ts"].as_str(), updated["text"].as_str()),
        (Some("C1"), Some("1.2"), Some("edited"))
    );
}

#[tokio::test]
async fn a_short_rate_limit_is_retried_in_process_and_a_long_one_goes_back_to_the_outbox() {
    let fake = FakeSlack::start().await;
    let sender = sender(&fake).await;
    let channel = ChannelId("C1".into());

    fake.script(POST, vec![Answer::rate_limited(1)]);
    let started = Instant::now();
    assert!(sender.post(&channel, &Message::plain("a")).await.is_ok());
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(fake.received(POST).len(), 2);

    fake.script(POST, vec![Answer::rate_limited(30)]);
    match sender.post(&channel, &Message::plain("b")).await {
        Err(SendError::Retryable { after, .. }) => assert_eq!(after, Some(Duration::from_secs(30))),
        other => panic!("expected Retryable, got {other:?}"),
    }
    assert_eq!(fake.received(POST).len(), 3, "a 30 s wait is not done in-process");
}

#[tokio::test]
async fn outages_are_retryable_after_two_retries_and_slack_errors_are_sorted() {
    let fake = FakeSlack::start().await;
    let sender = sender(&fake).await.with_retries(2, Duration::from_secs(1));
    let channel = ChannelId("C1".into());

    let outage = Answer::status(500, json!({"ok": false}));
    fake.script(POST, vec![outage.clone(), outage.clone(), outage]);
    assert!(matches!(sender.post(&channel, &Message::plain("a")).await, Err(SendError::Retryable { after: None, .. })));
    assert_eq!(fake.received(POST).len(), 3, "one attempt and two retries");

    fake.script(
        POST,
        vec![
            Answer::status(503, json!({})),
            Answer::ok(json!({"ok": true, "channel": "C1", "ts": "9.9", "message": {"ts": "9.9"}})),
        ],
    );
    assert_eq!(sender.post(&channel, &Message::plain("b")).await.unwrap().id, "9.9", "a blip is absorbed");

    for code in ["channel_not_found", "not_in_channel", "invalid_auth", "invalid_blocks"] {
        let before = fake.received(POST).len();
        fake.script(POST, vec![Answer::ok(json!({"ok": false, "error": code}))]);
        match sender.post(&channel, &Message::plain("c")).await {
            Err(SendError::Permanent(reason)) => assert!(reason.contains(code), "{reason}"),
            other => panic!("{code}: expected Permanent, got {other:?}"),
        }
        assert_eq!(fake.received(POST).len(), before + 1, "{code} is not retried");
    }

    fake.script(POST, vec![Answer::ok(json!({"ok": false, "error": "internal_error"})); 3]);
    assert!(matches!(sender.post(&channel, &Message::plain("d")).await, Err(SendError::Retryable { .. })));

    let unreachable = SlackSender::new(SecretString::from("x"), Some("http://127.0.0.1:9/api"))
        .unwrap()
        .with_retries(0, Duration::ZERO);
    assert!(matches!(unreachable.post(&channel, &Message::plain("e")).await, Err(SendError::Retryable { .. })));
}

#[tokio::test]
async fn follow_ups_post_the_reply_to_response_url() {
    let fake = FakeSlack::start().await;
    let sender = sender(&fake).await;
    let to = FollowUp::SlackResponseUrl(fake.response_url("f1"));
    sender.follow_up(&to, &Reply::UpdateOriginal(Message::plain("Approved"))).await.unwrap();
    let body = fake.received("/respond/f1")[0].json();
    assert_eq!((body["replace_original"].as_bool(), body["text"].as_str()), (Some(true), Some("Approved")));
    assert!(body.get("response_type").is_none());

    sender.follow_up(&to, &Reply::Nothing).await.unwrap();
    sender.follow_up(&FollowUp::None, &Reply::Ephemeral(Message::plain("x"))).await.unwrap();
    assert_eq!(fake.received("/respond/f1").len(), 1, "nothing to say sends nothing");

    let expired = FollowUp::SlackResponseUrl(fake.response_url("gone"));
    fake.script("/respond/gone", vec![Answer::status(404, json!("expired_url"))]);
    assert!(matches!(
        sender.follow_up(&expired, &Reply::InChannel(Message::plain("x"))).await,
        Err(SendError::Permanent(_))
    ));
}

/// A Socket Mode envelope carrying a slash command `text` from workspace `team` in `channel`.
pub(crate) fn command_envelope(id: &str, team: &str, channel: &str, text: &str, response_url: &str) -> Value {
    let payload = json!({
        "token": "x", "team_id": team, "team_domain": "t", "channel_id": channel, "channel_name": "costs",
        "user_id": "U9", "user_name": "pat", "command": "/cost", "text": text,
        "response_url": response_url, "trigger_id": "1.2.3", "api_app_id": "A1"
    });
    json!({"type": "slash_commands", "envelope_id": id, "accepts_response_payload": true, "payload": payload})
}

/// A websocket server that sends Socket Mode's hello and then each envelope in turn, waiting
/// for its acknowledgement; returns the acknowledgements.
pub(crate) async fn fake_socket(envelopes: Vec<Value>) -> (String, tokio::task::JoinHandle<Vec<Value>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/link", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let hello = json!({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}, "debug_info": {"host": "fake"}});
        ws.send(WsMessage::Text(hello.to_string().into())).await.unwrap();
        let mut acks = Vec::new();
        for envelope in envelopes {
            ws.send(WsMessage::Text(envelope.to_string().into())).await.unwrap();
            loop {
                let Some(frame) = ws.next().await else {
                    panic!("the websocket closed before an acknowledgement arrived")
                };
                if let Ok(WsMessage::Text(text)) = frame {
                    let ack: Value = serde_json::from_str(&text).unwrap();
                    if ack.get("envelope_id").is_some() {
                        acks.push(ack);
                        break;
                    }
                }
            }
        }
        acks
    });
    (url, task)
}

#[tokio::test]
async fn socket_mode_answers_a_slash_command_in_its_acknowledgement() {
    crate::support::init();
    let fake = FakeSlack::start().await;
    let envelope = command_envelope("env-1", "T1", "C9", "top 5", &fake.response_url("socket"));
    let (ws_url, acked) = fake_socket(vec![envelope]).await;
    fake.script("/api/apps.connections.open", vec![Answer::ok(json!({"ok": true, "url": ws_url}))]);
    let handler = CountingHandler::new(Reply::Ephemeral(Message::plain("Top 5 services…")), Duration::ZERO);
    let running = tokio::spawn(run_socket_mode(
        SecretString::from("xapp-test"),
        SecretString::from("xoxb-test"),
        handler.clone(),
        costbot::chat::slack::origin::Workspaces::default(),
        Some(fake.api_url()),
    ));
    let acks = tokio::time::timeout(Duration::from_secs(15), acked).await.expect("acknowledged in time").unwrap();
    let ack = &acks[0];
    running.abort();
    assert_eq!(ack["envelope_id"], "env-1");
    assert_eq!(
        (ack["payload"]["response_type"].as_str(), ack["payload"]["text"].as_str()),
        (Some("ephemeral"), Some("Top 5 services…"))
    );
    assert_eq!(fake.received("/api/apps.connections.open")[0].headers["authorization"], "Bearer xapp-test");
    assert!(
        matches!(handler.last_event(), Some(costbot::chat::Inbound::Command { text, actor, .. }) if text == "top 5" && actor.channel.0 == "C9")
    );
    assert_eq!(handler.calls(), 1);
}
