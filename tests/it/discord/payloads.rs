//! The real payloads from Discord's docs parse into the expected neutral events.

use serde_json::{json, Value};
use serenity::model::application::Interaction;

use super::{fixture, APP_ID};
use costbot::chat::discord::convert::{convert, Converted};
use costbot::chat::{Actor, FollowUp, Inbound};
use costbot::domain::chat::message::{ActionRef, Verb};
use costbot::domain::chat::{ChannelId, MessageRef, Platform, UserId};

fn parse(value: &Value) -> Interaction {
    serde_json::from_value(value.clone()).expect("serenity parses the payload")
}

fn command_fixture() -> Value {
    serde_json::from_str(&fixture("interaction.application_command.slash.discord-docs.json")).unwrap()
}

fn button_fixture() -> Value {
    serde_json::from_str(&fixture("interaction.message_component.button.discord-docs.json")).unwrap()
}

#[test]
fn the_docs_slash_command_becomes_a_command_with_member_roles() {
    let converted = convert(&parse(&command_fixture()));
    let expected = Inbound::Command {
        actor: Actor {
            platform: Platform::Discord,
            user: UserId("53908232506183680".into()),
            roles: vec!["539082325061836999".into()],
            channel: ChannelId("645027906669510667".into()),
        },
        text: "The Gitrog Monster".into(),
        follow_up: FollowUp::DiscordInteraction { application_id: APP_ID.to_string(), token: "A_UNIQUE_TOKEN".into() },
    };
    assert_eq!(converted, Converted::Event(expected));
}

#[test]
fn the_docs_button_is_unknown_until_its_custom_id_is_a_costbot_action() {
    let mut payload = button_fixture();
    assert_eq!(convert(&parse(&payload)), Converted::UnknownButton, "click_one is not a costbot action");

    payload["data"]["custom_id"] = json!("ack:an-0123abcd:2");
    let Converted::Event(Inbound::Click { actor, action, message, follow_up }) = convert(&parse(&payload)) else {
        panic!("expected a click");
    };
    assert_eq!(actor.user, UserId("53908232506183680".into()));
    assert_eq!(actor.roles, vec!["290926798626357999".to_string()]);
    assert_eq!(actor.channel, ChannelId("345626669114982999".into()));
    assert_eq!(action, ActionRef { verb: Verb::Ack, target: "an-0123abcd".into(), version: 2 });
    assert_eq!(
        message,
        Some(MessageRef { channel: ChannelId("345626669114982999".into()), id: "844397162624450620".into() })
    );
    assert_eq!(
        follow_up,
        FollowUp::DiscordInteraction { application_id: APP_ID.to_string(), token: "unique_interaction_token".into() }
    );
}

#[test]
fn a_direct_message_takes_the_user_and_has_no_roles() {
    let mut payload = command_fixture();
    let user = payload["member"]["user"].clone();
    let object = payload.as_object_mut().unwrap();
    object.remove("member");
    object.remove("guild_id");
    object.insert("user".into(), user);
    let Converted::Event(Inbound::Command { actor, .. }) = convert(&parse(&payload)) else {
        panic!("expected a command")
    };
    assert_eq!(actor.user, UserId("53908232506183680".into()));
    assert!(actor.roles.is_empty());
}

#[test]
fn structured_options_join_in_grammar_order() {
    let mut payload = command_fixture();
    payload["data"]["name"] = json!("cost");
    payload["data"]["options"] = json!([
        {"type": 3, "name": "filter", "value": "service=ec2"},
        {"type": 3, "name": "by", "value": "service"},
        {"type": 3, "name": "period", "value": "mtd"}
    ]);
    let Converted::Event(Inbound::Command { text, .. }) = convert(&parse(&payload)) else {
        panic!("expected a command")
    };
    assert_eq!(text, "mtd by service service=ec2");

    payload["data"]["options"] = json!([]);
    let Converted::Event(Inbound::Command { text, .. }) = convert(&parse(&payload)) else {
        panic!("expected a command")
    };
    assert_eq!(text, "", "a bare /cost is the summary");
}
