//! The Slack adapter end to end: request verification (Slack's own test vector), parsing of
//! real payloads, the HTTP routes on a loopback port with the 3-second rule and redelivery,
//! and (in submodules) rendering, the Web API sender and Socket Mode.

pub mod api;
pub mod fake;
mod render;

use std::sync::Arc;
use std::time::{Duration, Instant};

use costbot::chat::slack::parse::{self, Interaction};
use costbot::chat::slack::{router, SlackSender, SlackState};
use costbot::chat::{FollowUp, Inbound, Reply};
use costbot::domain::chat::message::{ActionRef, Message, Verb};
use costbot::domain::chat::{ChannelId, MessageRef, Platform, UserId};
use secrecy::SecretString;
use serde_json::{json, Value};

use fake::{command_body, data, interaction_body, post_signed, serve, CountingHandler, FakeSlack};

const VECTOR_TS: i64 = 1531420618;

struct Vector {
    secret: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn vector() -> Vector {
    let v: Value = serde_json::from_str(&data("signing_test_vector.json")).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    Vector {
        secret: s("signing_secret"),
        timestamp: s("timestamp"),
        body: s("body"),
        signature: s("expected_signature"),
    }
}

/// Routes on a loopback port with the clock pinned at `now`, accepting `secrets`.
async fn routes(secrets: &[&str], now: i64, handler: Arc<CountingHandler>, fake: &FakeSlack) -> String {
    crate::support::init();
    let sender = Arc::new(SlackSender::new(SecretString::from("xoxb-test"), Some(&fake.api_url())).unwrap());
    let state = SlackState::new(secrets.iter().map(|s| SecretString::from(*s)).collect(), handler, sender)
        .with_clock(Arc::new(move || now));
    serve(router(state)).await
}

async fn post_raw(url: &str, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn answer() -> Reply {
    Reply::InChannel(Message::plain("EC2 is $12.34 today"))
}

#[tokio::test]
async fn slacks_signing_vector_passes_and_every_forgery_is_a_bare_401() {
    let v = vector();
    let fake = FakeSlack::start().await;
    let handler = CountingHandler::new(answer(), Duration::ZERO);
    let base = routes(&[&v.secret], VECTOR_TS + 10, handler.clone(), &fake).await;
    let url = format!("{base}/slack/commands");
    let headers = |ts: &str, sig: &str| {
        vec![("x-slack-request-timestamp", ts.to_string()), ("x-slack-signature", sig.to_string())]
    };
    let send = |headers: Vec<(&'static str, String)>, body: String| {
        let url = url.clone();
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_raw(&url, &h, &body).await
        }
    };

    let genuine = send(headers(&v.timestamp, &v.signature), v.body.clone()).await;
    assert_eq!(genuine.status(), 200);
    assert_eq!(genuine.json::<Value>().await.unwrap()["response_type"], "in_channel");
    assert_eq!(handler.calls(), 1);

    let forgeries = [
        ("tampered body", headers(&v.timestamp, &v.signature), v.body.replace("roadrunner", "coyote")),
        ("other timestamp", headers(&(VECTOR_TS + 1).to_string(), &v.signature), v.body.clone()),
        (
            "wrong secret",
            headers(
                &v.timestamp,
                &costbot::chat::slack::verify::sign(&SecretString::from("not-it"), &v.timestamp, v.body.as_bytes()),
            ),
            v.body.clone(),
        ),
        ("no signature", vec![("x-slack-request-timestamp", v.timestamp.clone())], v.body.clone()),
        ("no timestamp", vec![("x-slack-signature", v.signature.clone())], v.body.clone()),
        ("no headers", vec![], v.body.clone()),
        ("garbled signature", headers(&v.timestamp, "v0=not-hex"), v.body.clone()),
        ("garbled timestamp", headers("yesterday", &v.signature), v.body.clone()),
    ];
    for (what, headers, body) in forgeries {
        let response = send(headers, body).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(response.text().await.unwrap(), "", "{what}: a refusal says nothing");
    }
    assert_eq!(handler.calls(), 1, "no forgery reached the handler");
}

#[tokio::test]
async fn the_vector_is_refused_when_stale_or_from_the_future_and_the_rotation_secret_passes() {
    let v = vector();
    let fake = FakeSlack::start().await;
    let handler = CountingHandler::new(answer(), Duration::ZERO);
    let sig = [("x-slack-request-timestamp", v.timestamp.as_str()), ("x-slack-signature", v.signature.as_str())];
    for (now, expected) in
        [(VECTOR_TS + 301, 401), (VECTOR_TS - 301, 401), (VECTOR_TS + 300, 200), (VECTOR_TS - 300, 200)]
    {
        // A fresh router per clock, so the redelivery check does not hide the second success.
        let base = routes(&[&v.secret], now, handler.clone(), &fake).await;
        let response = post_raw(&format!("{base}/slack/commands"), &sig, &v.body).await;
        assert_eq!(response.status(), expected, "now = ts {:+}", now - VECTOR_TS);
    }
    assert_eq!(handler.calls(), 2);

    // During a rotation the old secret comes second and still verifies.
    let base = routes(&["the-new-secret", &v.secret], VECTOR_TS, handler.clone(), &fake).await;
    assert_eq!(post_raw(&format!("{base}/slack/commands"), &sig, &v.body).await.status(), 200);
    assert_eq!(handler.calls(), 3);
}

#[tokio::test]
async fn oversized_bodies_get_413_and_malformed_signed_bodies_get_a_short_400() {
    let fake = FakeSlack::start().await;
    let handler = CountingHandler::new(answer(), Duration::ZERO);
    let now = 1_700_000_000;
    let base = routes(&["s"], now, handler.clone(), &fake).await;
    let big = "a".repeat(65 * 1024);
    assert_eq!(post_signed(&format!("{base}/slack/commands"), "s", now, &big, &[]).await.status(), 413);
    for (path, body) in [
        ("commands", "text=hi"),
        ("commands", "%%%"),
        ("interactions", "payload=%7Bnot-json"),
        ("interactions", "nothing=here"),
    ] {
        let response = post_signed(&format!("{base}/slack/{path}"), "s", now, body, &[]).await;
        assert_eq!(response.status(), 400, "{path} {body}");
        let reason = response.text().await.unwrap();
        assert!(!reason.is_empty() && reason.len() < 300, "{reason}");
    }
    assert_eq!(handler.calls(), 0);
}

#[test]
fn real_slash_commands_become_neutral_commands() {
    let cases = [
        (
            "slash_command.signing-vector-body.form-urlencoded.txt",
            "U2CERLKJA",
            "G8PSS9T3V",
            "",
            "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
        ),
        (
            "slash_command.slack-docs-example.form-urlencoded.txt",
            "U2147483697",
            "C2147483705",
            "94070",
            "https://hooks.slack.com/commands/1234/5678",
        ),
        (
            "slash_command.modified-real.form-urlencoded.txt",
            "W111",
            "C111",
            "",
            "https://hooks.slack.com/commands/T111/111/xxx",
        ),
    ];
    for (file, user, channel, text, url) in cases {
        let event =
            parse::command_from_form(data(file).trim_end().as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let expected = Inbound::Command {
            actor: costbot::chat::Actor {
                platform: Platform::Slack,
                user: UserId(user.into()),
                roles: vec![],
                channel: ChannelId(channel.into()),
            },
            text: text.into(),
            follow_up: FollowUp::SlackResponseUrl(url.into()),
        };
        assert_eq!(parse::command_to_inbound(&event), expected, "{file}");
    }
}

/// A real payload with its button's action id replaced by one of costbot's.
fn with_action(file: &str, action_id: &str) -> Value {
    let mut payload: Value = serde_json::from_str(&data(file)).unwrap();
    payload["actions"][0]["action_id"] = json!(action_id);
    payload
}

#[test]
fn real_block_actions_become_clicks_with_the_message_to_update() {
    let approve = ActionRef { verb: Verb::Approve, target: "pr-1".into(), version: 3 };
    let click = |file: &str| {
        let event =
            parse::interaction_from_form(interaction_body(&with_action(file, &approve.encode())).as_bytes()).unwrap();
        match parse::interaction_to_inbound(&event) {
            Interaction::Click(Inbound::Click { actor, action, message, follow_up }) => {
                (actor, action, message, follow_up)
            }
            other => panic!("{file}: {other:?}"),
        }
    };

    let (actor, action, message, follow_up) = click("block_actions.button.message-container.bolt-python.json");
    assert_eq!(
        (actor.user, actor.channel.clone(), action.clone()),
        (UserId("W111".into()), ChannelId("C111".into()), approve.clone())
    );
    assert_eq!(message, Some(MessageRef { channel: ChannelId("C111".into()), id: "111.222".into() }));
    assert_eq!(follow_up, FollowUp::SlackResponseUrl("https://hooks.slack.com/actions/T111/111/random-value".into()));

    let (actor, _, message, _) = click("block_actions.button.slack-docs-example.json");
    assert_eq!(actor.user, UserId("UA8RXUSPL".into()));
    assert_eq!(message, Some(MessageRef { channel: ChannelId("CBR2V3XEX".into()), id: "1548261231.000200".into() }));

    // A Home tab click has no channel message and no response_url; it must still convert.
    let (actor, _, message, follow_up) = click("block_actions.button-with-confirm.home-view.json");
    assert_eq!(
        (actor.user, actor.channel, message, follow_up),
        (UserId("U12345678".into()), ChannelId(String::new()), None, FollowUp::None)
    );

    // Unchanged, the real payloads carry buttons costbot did not make.
    for file in ["block_actions.button.slack-docs-example.json", "block_actions.button-with-confirm.home-view.json"] {
        let event =
            parse::interaction_from_form(interaction_body(&serde_json::from_str(&data(file)).unwrap()).as_bytes())
                .unwrap();
        assert!(matches!(parse::interaction_to_inbound(&event), Interaction::UnknownAction { .. }), "{file}");
    }
}

#[tokio::test]
async fn clicks_are_acked_at_once_and_answered_through_response_url() {
    let fake = FakeSlack::start().await;
    let handler = CountingHandler::new(Reply::UpdateOriginal(Message::plain("Approved by <@U1>")), Duration::ZERO);
    let now = 1_700_000_000;
    let base = routes(&["s"], now, handler.clone(), &fake).await;
    let url = format!("{base}/slack/interactions");

    let mut ours = with_action("block_actions.button.message-container.bolt-python.json", "ack:an-1:2");
    ours["response_url"] = Value::String(fake.response_url("click"));
    let response = post_signed(&url, "s", now, &interaction_body(&ours), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "", "Slack ignores bodies in a click's acknowledgement");
    let update = fake
        .wait_for("/respond/click", Duration::from_secs(5))
        .await
        .expect("the card update reached response_url")
        .json();
    assert_eq!(update["replace_original"], true);
    assert_eq!(update["blocks"][0]["text"]["text"], "Approved by &lt;@U1&gt;");
    assert!(
        matches!(handler.last_event(), Some(Inbound::Click { action, .. }) if action.verb == Verb::Ack && action.target == "an-1")
    );

    let mut theirs: Value = serde_json::from_str(&data("block_actions.button.slack-docs-example.json")).unwrap();
    theirs["response_url"] = Value::String(fake.response_url("unknown"));
    assert_eq!(post_signed(&url, "s", now, &interaction_body(&theirs), &[]).await.status(), 200);
    let note =
        fake.wait_for("/respond/unknown", Duration::from_secs(5)).await.expect("the note reached response_url").json();
    assert_eq!(note["response_type"], "ephemeral");
    assert!(note["text"].as_str().unwrap().contains("I don't know that button"));
    // A Home tab click has no response_url: acknowledged, nothing else.
    let home =
        interaction_body(&serde_json::from_str(&data("block_actions.button-with-confirm.home-view.json")).unwrap());
    assert_eq!(post_signed(&url, "s", now, &home, &[]).await.status(), 200);
    assert_eq!(handler.calls(), 1, "unknown buttons never reach the handler");
}

#[tokio::test]
async fn a_quick_answer_comes_in_the_response_and_a_slow_one_through_response_url() {
    let fake = FakeSlack::start().await;
    let now = 1_700_000_000;

    let quick = CountingHandler::new(answer(), Duration::ZERO);
    let base = routes(&["s"], now, quick.clone(), &fake).await;
    let body = command_body("ec2 today", &fake.response_url("quick"), "t.1");
    let json: Value = post_signed(&format!("{base}/slack/commands"), "s", now, &body, &[]).await.json().await.unwrap();
    assert_eq!(json["response_type"], "in_channel");
    assert_eq!(json["text"], "EC2 is $12.34 today");
    assert_eq!(json["blocks"][0]["type"], "section");
    assert!(matches!(quick.last_event(), Some(Inbound::Command { text, .. }) if text == "ec2 today"));

    let slow = CountingHandler::new(answer(), Duration::from_secs(3));
    let base = routes(&["s"], now, slow.clone(), &fake).await;
    let body = command_body("forecast", &fake.response_url("slow"), "t.2");
    let started = Instant::now();
    let response = post_signed(&format!("{base}/slack/commands"), "s", now, &body, &[]).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "", "the ack is empty");
    assert!(waited < Duration::from_millis(2900), "acknowledged within Slack's 3 s: {waited:?}");
    assert!(fake.received("/respond/slow").is_empty(), "the reply is not there before the handler ends");
    let late =
        fake.wait_for("/respond/slow", Duration::from_secs(5)).await.expect("the late reply reached response_url");
    let late = late.json();
    assert_eq!(
        (late["response_type"].as_str(), late["text"].as_str()),
        (Some("in_channel"), Some("EC2 is $12.34 today"))
    );
    assert_eq!(slow.calls(), 1);
}

#[tokio::test]
async fn a_redelivered_request_does_not_run_the_handler_twice() {
    let fake = FakeSlack::start().await;
    let now = 1_700_000_000;
    let handler = CountingHandler::new(answer(), Duration::from_millis(50));
    let base = routes(&["s"], now, handler.clone(), &fake).await;
    let url = format!("{base}/slack/commands");
    let body = command_body("ec2", &fake.response_url("r"), "t.3");
    assert_eq!(post_signed(&url, "s", now, &body, &[]).await.status(), 200);
    let retry =
        post_signed(&url, "s", now + 3, &body, &[("x-slack-retry-num", "1"), ("x-slack-retry-reason", "http_timeout")])
            .await;
    assert_eq!(retry.status(), 200);
    assert_eq!(handler.calls(), 1);
    // A different invocation (new trigger_id) is not a redelivery.
    assert_eq!(
        post_signed(&url, "s", now, &command_body("ec2", &fake.response_url("r"), "t.4"), &[]).await.status(),
        200
    );
    assert_eq!(handler.calls(), 2);
}
