//! The interactions endpoint over loopback HTTP with a generated key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use super::{fixture, key_pair, serve, sign, CountingHandler, FakeDiscord, APP_ID};
use costbot::chat::discord::{router, DiscordState};
use costbot::chat::{Inbound, Reply};
use costbot::domain::chat::message::{ActionRef, Message, Verb};

struct Endpoint {
    url: String,
    key: SigningKey,
    handler: Arc<CountingHandler>,
    fake: FakeDiscord,
    client: reqwest::Client,
}

impl Endpoint {
    async fn start(reply: Reply, delay: Duration) -> Endpoint {
        crate::support::init();
        let (key, public) = key_pair();
        let (fake, fake_url) = FakeDiscord::start().await;
        let handler = CountingHandler::new(reply, delay);
        let sender = Arc::new(FakeDiscord::sender(&fake_url));
        let state = DiscordState::new(&public, handler.clone(), sender).expect("state");
        let url = serve(router(state)).await;
        Endpoint { url: format!("{url}/discord/interactions"), key, handler, fake, client: reqwest::Client::new() }
    }

    async fn post_raw(&self, body: Vec<u8>, signature: Option<&str>, timestamp: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(&self.url).header("content-type", "application/json").body(body);
        if let Some(s) = signature {
            request = request.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = timestamp {
            request = request.header("X-Signature-Timestamp", t);
        }
        request.send().await.expect("request")
    }

    async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign(&self.key, &timestamp, body);
        self.post_raw(body.to_vec(), Some(&signature), Some(&timestamp)).await
    }
}

fn ping() -> Vec<u8> {
    serde_json::to_vec(&json!({"id": "1300000000000000009", "application_id": APP_ID.to_string(), "type": 1, "token": "t", "version": 1}))
        .unwrap()
}

fn button(custom_id: &str) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_str(&fixture("interaction.message_component.button.discord-docs.json")).unwrap();
    payload["data"]["custom_id"] = json!(custom_id);
    serde_json::to_vec(&payload).unwrap()
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let endpoint = Endpoint::start(Reply::Nothing, Duration::ZERO).await;
    let response = endpoint.post_signed(&ping()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"type": 1}));
}

#[tokio::test]
async fn unsigned_or_badly_signed_requests_get_401_and_reach_nothing() {
    let endpoint = Endpoint::start(Reply::Nothing, Duration::ZERO).await;
    let body = fixture("interaction.application_command.slash.discord-docs.json").into_bytes();
    let timestamp = "1731000000";
    let good = sign(&endpoint.key, timestamp, &body);
    let (other_key, _) = key_pair();
    let cases: Vec<(Option<String>, Option<&str>)> = vec![
        (None, None),
        (Some(good.clone()), None),
        (None, Some(timestamp)),
        (Some("not-hex".into()), Some(timestamp)),
        (Some(good.clone()), Some("1731000001")),
        (Some(sign(&other_key, timestamp, &body)), Some(timestamp)),
    ];
    for (signature, ts) in cases {
        let response = endpoint.post_raw(body.clone(), signature.as_deref(), ts).await;
        assert_eq!(response.status(), 401, "signature {signature:?}, timestamp {ts:?}");
    }
    // A tampered body with the original signature.
    let mut tampered = body.clone();
    tampered[20] ^= 0x01;
    assert_eq!(endpoint.post_raw(tampered, Some(&good), Some(timestamp)).await.status(), 401);
    assert_eq!(endpoint.handler.calls(), 0);
    assert!(endpoint.fake.requests().is_empty());
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_cleanly() {
    let endpoint = Endpoint::start(Reply::Nothing, Duration::ZERO).await;
    let big = vec![b' '; 64 * 1024 + 1];
    assert_eq!(endpoint.post_signed(&big).await.status(), 413);
    assert_eq!(endpoint.post_signed(b"{not json").await.status(), 400);
    assert_eq!(endpoint.post_signed(br#"{"type": 99}"#).await.status(), 400);
    assert_eq!(endpoint.handler.calls(), 0);
}

#[tokio::test]
async fn a_signed_command_gets_the_handlers_reply_as_a_channel_message() {
    let endpoint = Endpoint::start(Reply::InChannel(Message::plain("Month to date: $12.00")), Duration::ZERO).await;
    let body = fixture("interaction.application_command.slash.discord-docs.json");
    let response = endpoint.post_signed(body.as_bytes()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["type"], 4);
    assert!(answer["data"].get("flags").is_none(), "in-channel replies are not ephemeral");
    assert_eq!(answer["data"]["embeds"][0]["description"], "Month to date: $12.00");
    assert!(matches!(&endpoint.handler.events()[..], [Inbound::Command { text, .. }] if text == "The Gitrog Monster"));
}

#[tokio::test]
async fn ephemeral_replies_carry_flag_64() {
    let endpoint = Endpoint::start(Reply::Ephemeral(Message::plain("Only you can see this")), Duration::ZERO).await;
    let body = fixture("interaction.application_command.slash.discord-docs.json");
    let answer: Value = endpoint.post_signed(body.as_bytes()).await.json().await.unwrap();
    assert_eq!((answer["type"].clone(), answer["data"]["flags"].clone()), (json!(4), json!(64)));
}

#[tokio::test]
async fn a_signed_button_click_reaches_the_handler_and_updates_the_message() {
    let endpoint =
        Endpoint::start(Reply::UpdateOriginal(Message::plain("Acknowledged by Mason")), Duration::ZERO).await;
    let answer: Value = endpoint.post_signed(&button("mute:an-0123abcd:4")).await.json().await.unwrap();
    assert_eq!(answer["type"], 7);
    assert_eq!(answer["data"]["embeds"][0]["description"], "Acknowledged by Mason");
    let events = endpoint.handler.events();
    let [Inbound::Click { action, message, .. }] = &events[..] else { panic!("expected one click, got {events:?}") };
    assert_eq!(action, &ActionRef { verb: Verb::Mute, target: "an-0123abcd".into(), version: 4 });
    assert_eq!(message.as_ref().map(|m| m.id.as_str()), Some("844397162624450620"));
}

#[tokio::test]
async fn an_unknown_button_gets_a_private_answer_and_skips_the_handler() {
    let endpoint = Endpoint::start(Reply::Nothing, Duration::ZERO).await;
    let answer: Value = endpoint.post_signed(&button("click_one")).await.json().await.unwrap();
    assert_eq!((answer["type"].clone(), answer["data"]["flags"].clone()), (json!(4), json!(64)));
    assert!(answer["data"]["embeds"][0]["description"].as_str().unwrap().starts_with("I don't know that button"));
    assert_eq!(endpoint.handler.calls(), 0);
}

#[tokio::test]
async fn a_slow_command_is_deferred_at_once_and_answered_through_the_webhook() {
    let endpoint = Endpoint::start(Reply::InChannel(Message::plain("Slow answer")), Duration::from_secs(3)).await;
    let body = fixture("interaction.application_command.slash.discord-docs.json");
    let started = Instant::now();
    let answer: Value = endpoint.post_signed(body.as_bytes()).await.json().await.unwrap();
    assert_eq!(answer, json!({"type": 5}));
    assert!(started.elapsed() < Duration::from_millis(2900), "deferral took {:?}", started.elapsed());
    let late = endpoint
        .fake
        .wait_for(Duration::from_secs(5), |r| {
            r.path == format!("/api/v10/webhooks/{APP_ID}/A_UNIQUE_TOKEN/messages/@original")
        })
        .await;
    assert_eq!(late.method, "PATCH");
    assert_eq!(late.body["embeds"][0]["description"], "Slow answer");
}

#[tokio::test]
async fn a_slow_click_is_acknowledged_and_its_update_follows() {
    let endpoint = Endpoint::start(Reply::Ephemeral(Message::plain("Muted")), Duration::from_secs(3)).await;
    let answer: Value = endpoint.post_signed(&button("mute:an-0123abcd:4")).await.json().await.unwrap();
    assert_eq!(answer, json!({"type": 6}));
    let late = endpoint
        .fake
        .wait_for(Duration::from_secs(5), |r| r.path == format!("/api/v10/webhooks/{APP_ID}/unique_interaction_token"))
        .await;
    assert_eq!((late.method.as_str(), late.body["flags"].clone()), ("POST", json!(64)));
}
