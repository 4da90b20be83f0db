//! serenity's `Interaction` model → neutral [`Inbound`] events.
//!
//! HTTP mode deserialises the verified body into serenity's `Interaction`; gateway mode
//! receives the same type from serenity's client. Both call [`convert`], so a command or a
//! click means the same thing whichever way it arrived.

use serenity::model::application::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, ComponentInteraction, Interaction,
};
use serenity::model::guild::Member;
use serenity::model::user::User;

use crate::chat::{Actor, FollowUp, Inbound};
use crate::domain::chat::message::ActionRef;
use crate::domain::chat::{ChannelId, MessageRef, Platform, UserId};

/// What an interaction amounts to for costbot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per request, moved once into the handler; boxing would only add an allocation"
)]
pub enum Converted {
    /// Discord's endpoint check: answer PONG.
    Ping,
    /// A command or a click for the handler.
    Event(Inbound),
    /// A component whose custom_id is not a costbot action (an old or foreign button).
    UnknownButton,
    /// Something costbot does not offer (autocomplete, modals).
    Unsupported,
}

/// Option names in the order the `/cost` grammar reads them, so structured options join into
/// the same text a person would type (`mtd by service service=ec2`).
const GRAMMAR_ORDER: &[&str] = &["query", "period", "by", "filter"];

/// Why a verified body is not an interaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON of an interaction.
    #[error("not an interaction: {0}")]
    Invalid(String),
    /// serenity panicked while reading it.
    #[error("serenity could not read the interaction")]
    Panicked,
}

/// Reads a verified body into serenity's `Interaction`. serenity 0.12.5 panics on some
/// inputs instead of failing: its `ImageHash` parser slices an avatar hash at fixed byte
/// offsets, so a non-ASCII character there ends the request with a panic (found by the fuzz
/// harness, `discord` target, seed 16). Only Discord can sign a body, so this is a defect,
/// not an attack surface; it is still answered as a bad request, never a dropped connection.
pub fn parse_interaction(body: &[u8]) -> Result<Interaction, ParseError> {
    match std::panic::catch_unwind(|| serde_json::from_slice::<Interaction>(body)) {
        Ok(Ok(interaction)) => Ok(interaction),
        Ok(Err(error)) => Err(ParseError::Invalid(error.to_string())),
        Err(_) => Err(ParseError::Panicked),
    }
}

/// Converts any interaction.
pub fn convert(interaction: &Interaction) -> Converted {
    match interaction {
        Interaction::Ping(_) => Converted::Ping,
        Interaction::Command(command) => Converted::Event(command_event(command)),
        Interaction::Component(component) => {
            component_event(component).map_or(Converted::UnknownButton, Converted::Event)
        }
        _ => Converted::Unsupported,
    }
}

/// A slash command as [`Inbound::Command`]; `text` is what follows `/cost`.
pub fn command_event(command: &CommandInteraction) -> Inbound {
    let actor = actor(command.member.as_deref(), &command.user, command.channel_id.get());
    let follow_up = FollowUp::DiscordInteraction {
        application_id: command.application_id.to_string(),
        token: command.token.clone(),
    };
    Inbound::Command { actor, text: options_text(&command.data.options), follow_up }
}

/// A button click as [`Inbound::Click`], or `None` when its custom_id is not a costbot action.
pub fn component_event(component: &ComponentInteraction) -> Option<Inbound> {
    let action = ActionRef::decode(&component.data.custom_id).ok()?;
    let actor = actor(component.member.as_ref(), &component.user, component.channel_id.get());
    let message = Some(MessageRef { channel: actor.channel.clone(), id: component.message.id.to_string() });
    let follow_up = FollowUp::DiscordInteraction {
        application_id: component.application_id.to_string(),
        token: component.token.clone(),
    };
    Some(Inbound::Click { actor, action, message, follow_up })
}

/// In a guild the person is `member.user` and their roles come with it; in a DM only `user`
/// is sent and there are no roles.
fn actor(member: Option<&Member>, user: &User, channel: u64) -> Actor {
    let (user_id, roles) = match member {
        Some(m) => (m.user.id.to_string(), m.roles.iter().map(ToString::to_string).collect()),
        None => (user.id.to_string(), Vec::new()),
    };
    Actor { platform: Platform::Discord, user: UserId(user_id), roles, channel: ChannelId(channel.to_string()) }
}

/// Joins the options into command text: known names in grammar order (`by` keeps its
/// keyword), then any others in the order Discord sent them. Subcommands contribute their
/// name followed by their own options.
fn options_text(options: &[CommandDataOption]) -> String {
    let rank = |o: &CommandDataOption| GRAMMAR_ORDER.iter().position(|n| *n == o.name).unwrap_or(GRAMMAR_ORDER.len());
    let mut ordered: Vec<&CommandDataOption> = options.iter().collect();
    ordered.sort_by_key(|o| rank(o));
    let words: Vec<String> = ordered
        .into_iter()
        .filter_map(|option| {
            let value = match &option.value {
                CommandDataOptionValue::SubCommand(inner) | CommandDataOptionValue::SubCommandGroup(inner) => {
                    return Some(format!("{} {}", option.name, options_text(inner)).trim().to_string())
                }
                CommandDataOptionValue::String(s) => s.trim().to_string(),
                CommandDataOptionValue::Integer(n) => n.to_string(),
                CommandDataOptionValue::Number(n) => n.to_string(),
                CommandDataOptionValue::Boolean(b) => b.to_string(),
                CommandDataOptionValue::Autocomplete { value, .. } => value.trim().to_string(),
                _ => return None,
            };
            match (option.name.as_str(), value.is_empty()) {
                (_, true) => None,
                ("by", false) => Some(format!("by {value}")),
                (_, false) => Some(value),
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    fn fixture() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/discord/interaction.message_component.button.discord-docs.json"
        );
        std::fs::read_to_string(path).unwrap()
    }

    /// The fuzz harness's one finding: a non-ASCII character inside an avatar hash made
    /// serenity panic while parsing; it is a bad request now.
    #[test]
    fn an_avatar_hash_that_makes_serenity_panic_is_a_bad_request() {
        let good = fixture();
        assert!(parse_interaction(good.as_bytes()).is_ok());
        let bad = good.replacen("a_d5efa99b3eeaa7dd43acca82f5692432", "a_d5efa99b3eeaa7dd43a\u{201c}ccf5692432", 1);
        assert_ne!(bad, good, "the fixture has the avatar the finding mutated");
        // serenity's panic message is printed by the default hook; the request is refused.
        let parsed = parse_interaction(bad.as_bytes());
        assert!(parsed.is_err(), "{parsed:?}");
        assert!(matches!(parse_interaction(b"{\"type\": 99"), Err(ParseError::Invalid(_))));
    }
}
