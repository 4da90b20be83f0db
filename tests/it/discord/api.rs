//! DiscordSender and register_commands against the fake Discord API, through serenity's
//! HTTP client with the proxy set and the rate limiter off.

use std::time::Duration;

use serde_json::Value;
use serenity::model::id::GuildId;

use super::{FakeDiscord, APP_ID};
use costbot::chat::discord::commands::MANIFEST;
use costbot::chat::discord::register_commands;
use costbot::chat::{FollowUp, Reply, SendError, Sender};
use costbot::domain::chat::message::Message;
use costbot::domain::chat::{ChannelId, MessageRef};

/// The fake, a sender pointed at it, and an ordinary channel.
async fn fake_and_channel() -> (FakeDiscord, costbot::chat::discord::DiscordSender, ChannelId) {
    crate::support::init();
    let (fake, url) = FakeDiscord::start().await;
    (fake, FakeDiscord::sender(&url), ChannelId("645027906669510667".into()))
}

#[tokio::test]
async fn posts_and_edits_reach_discord_as_bot_requests() {
    let (fake, sender, channel) = fake_and_channel().await;
    let posted = sender.post(&channel, &Message::plain("hello")).await.expect("post");
    assert_eq!(posted, MessageRef { channel: channel.clone(), id: "1200000000000000001".into() });
    sender.update(&posted, &Message::plain("edited")).await.expect("update");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/api/v10/channels/645027906669510667/messages")
    );
    assert_eq!(requests[0].authorization.as_deref(), Some("Bot test-token"));
    assert_eq!(requests[0].body["embeds"][0]["description"], "hello");
    assert_eq!(requests[0].body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("PATCH", "/api/v10/channels/645027906669510667/messages/1200000000000000001")
    );
    assert_eq!(requests[1].body["embeds"][0]["description"], "edited");
}

#[tokio::test]
async fn an_outbox_post_repeated_after_a_lost_answer_makes_one_message() {
    let (fake, sender, channel) = fake_and_channel().await;
    // The outbox posts a thread's card again when it never heard back the first time.
    let first = sender.post_thread(&channel, "pr-1", &Message::plain("approve me")).await.unwrap();
    let again = sender.post_thread(&channel, "pr-1", &Message::plain("approve me")).await.unwrap();
    assert_eq!(first, again);
    sender.post_thread(&channel, "pr-2", &Message::plain("another")).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].body["nonce"], requests[1].body["nonce"], "the same nonce for the same thread");
    assert_ne!(requests[0].body["nonce"], requests[2].body["nonce"]);
    assert!(requests.iter().all(|r| r.body["enforce_nonce"] == true && r.body["nonce"].as_str().unwrap().len() <= 25));
    assert_eq!(fake.created.lock().unwrap().len(), 2, "two threads, two messages");
}

#[tokio::test]
async fn a_late_private_answer_to_a_command_stays_private() {
    let (fake, sender, _) = fake_and_channel().await;
    let to = FollowUp::DiscordInteraction { application_id: APP_ID.to_string(), token: "tok".into() };
    let kind = costbot::chat::discord::respond::Kind::Command;
    sender.deliver_late(kind, &to, &Reply::Ephemeral(Message::plain("only for you"))).await.unwrap();
    let requests = fake.requests();
    let calls: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    let original = format!("/api/v10/webhooks/{APP_ID}/tok/messages/@original");
    let follow_up = format!("/api/v10/webhooks/{APP_ID}/tok");
    assert_eq!(calls, [("DELETE", original.as_str()), ("POST", follow_up.as_str())], "the public deferral goes");
    assert_eq!(requests[1].body["flags"], 64, "the answer is ephemeral");
}

#[tokio::test]
async fn rate_limits_and_outages_are_retryable_with_discords_wait() {
    crate::support::init();
    let (_fake, url) = FakeDiscord::start().await;
    let sender = FakeDiscord::sender(&url);
    match sender.post(&ChannelId("429429".into()), &Message::plain("x")).await {
        Err(SendError::Retryable { after, reason }) => {
            assert_eq!(after, Some(Duration::from_millis(1500)), "the body's retry_after wins");
            assert!(reason.contains("global"), "{reason}");
        }
        other => panic!("expected Retryable, got {other:?}"),
    }
    assert!(matches!(
        sender.post(&ChannelId("500500".into()), &Message::plain("x")).await,
        Err(SendError::Retryable { after: None, .. })
    ));
    // Nothing listens on port 9: a network failure is retryable too.
    let offline = FakeDiscord::sender("http://127.0.0.1:9");
    assert!(matches!(
        offline.post(&ChannelId("1".into()), &Message::plain("x")).await,
        Err(SendError::Retryable { .. })
    ));
}

#[tokio::test]
async fn unknown_channels_and_bad_ids_are_permanent() {
    crate::support::init();
    let (fake, url) = FakeDiscord::start().await;
    let sender = FakeDiscord::sender(&url);
    match sender.post(&ChannelId("404404".into()), &Message::plain("x")).await {
        Err(SendError::Permanent(reason)) => {
            assert!(reason.contains("Unknown Channel") && reason.contains("10003"), "{reason}")
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert!(matches!(
        sender.post(&ChannelId("#general".into()), &Message::plain("x")).await,
        Err(SendError::Permanent(_))
    ));
    assert!(matches!(
        sender.follow_up(&FollowUp::None, &Reply::InChannel(Message::plain("x"))).await,
        Err(SendError::Permanent(_))
    ));
    assert_eq!(fake.requests().len(), 1, "bad ids never reach Discord");
}

#[tokio::test]
async fn follow_ups_use_the_interaction_webhook() {
    crate::support::init();
    let (fake, url) = FakeDiscord::start().await;
    let sender = FakeDiscord::sender(&url);
    let to = FollowUp::DiscordInteraction { application_id: APP_ID.to_string(), token: "tok".into() };
    sender.follow_up(&to, &Reply::InChannel(Message::plain("a"))).await.unwrap();
    sender.follow_up(&to, &Reply::UpdateOriginal(Message::plain("b"))).await.unwrap();
    sender.follow_up(&to, &Reply::Nothing).await.unwrap();
    let seen: Vec<(String, String)> = fake.requests().iter().map(|r| (r.method.to_string(), r.path.clone())).collect();
    assert_eq!(
        seen,
        vec![
            ("POST".to_string(), format!("/api/v10/webhooks/{APP_ID}/tok")),
            ("PATCH".to_string(), format!("/api/v10/webhooks/{APP_ID}/tok/messages/@original")),
        ]
    );
}

#[tokio::test]
async fn register_commands_sends_exactly_the_manifest() {
    crate::support::init();
    let (fake, url) = FakeDiscord::start().await;
    let sender = FakeDiscord::sender(&url);
    let manifest: Value = serde_json::from_str(MANIFEST).unwrap();

    assert_eq!(register_commands(sender.http(), None, MANIFEST).await.expect("global"), 1);
    let guild = GuildId::new(290926798626357999);
    assert_eq!(register_commands(sender.http(), Some(guild), MANIFEST).await.expect("guild"), 1);

    let requests = fake.requests();
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("PUT", format!("/api/v10/applications/{APP_ID}/commands").as_str())
    );
    assert_eq!(requests[0].body, manifest);
    assert_eq!(requests[1].path, format!("/api/v10/applications/{APP_ID}/guilds/290926798626357999/commands"));
    assert_eq!(requests[1].body, manifest);
    assert_eq!(manifest[0]["name"], "cost");
    assert_eq!(manifest[0]["options"][0]["name"], "query");

    assert!(
        register_commands(sender.http(), None, "{\"name\": \"cost\"}").await.is_err(),
        "the manifest must be an array"
    );
}
