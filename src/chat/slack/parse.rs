//! From Slack's wire formats to costbot's neutral [`Inbound`] events.
//!
//! Both transports use these functions: HTTP parses the verified form body into
//! slack-morphism's event types here, Socket Mode receives those types already parsed, and both
//! then convert with [`command_to_inbound`] and [`interaction_to_inbound`]. So a slash command
//! means the same thing whichever way it arrived.

use std::collections::HashMap;

use slack_morphism::prelude::{
    SlackCommandEvent, SlackInteractionActionContainer, SlackInteractionBlockActionsEvent, SlackInteractionEvent,
};

use crate::chat::{Actor, FollowUp, Inbound};
use crate::domain::chat::message::ActionRef;
use crate::domain::chat::{ChannelId, MessageRef, Platform, UserId};

/// Why a verified body could not be read. The message is short and safe to send back in a 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("body is not a form")]
    NotAForm,
    /// A field every slash command carries is absent or empty.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// `response_url` is not a URL.
    #[error("response_url is not a URL")]
    BadResponseUrl,
    /// The interaction `payload` is not JSON of a known interaction type.
    #[error("payload is not a Slack interaction: {0}")]
    BadPayload(String),
}

/// What an interaction means to costbot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// A click on one of costbot's buttons.
    Click(Inbound),
    /// A click on a button whose action id costbot did not make (or no longer understands):
    /// the person gets a short ephemeral explanation.
    UnknownAction {
        /// Where that explanation can go later, if it cannot go in the HTTP answer.
        follow_up: FollowUp,
        /// The raw action id, for the log.
        action_id: String,
    },
    /// An interaction type costbot does not use (view submissions, shortcuts, …): acknowledged
    /// and otherwise ignored.
    Ignored,
}

/// Parses a slash command's form body into slack-morphism's event type.
pub fn command_from_form(body: &[u8]) -> Result<SlackCommandEvent, ParseError> {
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).map_err(|_| ParseError::NotAForm)?;
    let get =
        |name: &'static str| fields.get(name).filter(|v| !v.is_empty()).cloned().ok_or(ParseError::MissingField(name));
    let response_url = url::Url::parse(&get("response_url")?).map_err(|_| ParseError::BadResponseUrl)?;
    let event = SlackCommandEvent::new(
        get("team_id")?.into(),
        get("channel_id")?.into(),
        get("user_id")?.into(),
        get("command")?.into(),
        response_url.into(),
        get("trigger_id")?.into(),
    )
    .opt_text(fields.get("text").cloned())
    .opt_team_domain(fields.get("team_domain").cloned())
    .opt_channel_name(fields.get("channel_name").cloned());
    Ok(event)
}

/// Parses an interaction's form body (`payload=<JSON>`) into slack-morphism's event type.
pub fn interaction_from_form(body: &[u8]) -> Result<SlackInteractionEvent, ParseError> {
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).map_err(|_| ParseError::NotAForm)?;
    let payload = fields.get("payload").ok_or(ParseError::MissingField("payload"))?;
    serde_json::from_str(payload).map_err(|e| ParseError::BadPayload(short(&e.to_string())))
}

/// A slash command as a neutral [`Inbound::Command`].
pub fn command_to_inbound(event: &SlackCommandEvent) -> Inbound {
    let actor = Actor {
        platform: Platform::Slack,
        user: UserId(event.user_id.to_string()),
        roles: Vec::new(),
        channel: ChannelId(event.channel_id.to_string()),
    };
    Inbound::Command {
        actor,
        text: event.text.clone().unwrap_or_default().trim().to_string(),
        follow_up: FollowUp::SlackResponseUrl(event.response_url.0.to_string()),
    }
}

/// An interaction as costbot sees it: a click on its button, an unknown button, or something
/// costbot does not use.
pub fn interaction_to_inbound(event: &SlackInteractionEvent) -> Interaction {
    match event {
        SlackInteractionEvent::BlockActions(actions) => block_actions_to_inbound(actions),
        _ => Interaction::Ignored,
    }
}

fn block_actions_to_inbound(event: &SlackInteractionBlockActionsEvent) -> Interaction {
    let follow_up = match &event.response_url {
        Some(url) => FollowUp::SlackResponseUrl(url.0.to_string()),
        None => FollowUp::None,
    };
    // Slack sends one action per block_actions payload for buttons; anything else is ignored.
    let Some(action) = event.actions.as_ref().and_then(|a| a.first()) else {
        return Interaction::Ignored;
    };
    let action_id = action.action_id.to_string();
    let Ok(action) = ActionRef::decode(&action_id) else {
        return Interaction::UnknownAction { follow_up, action_id };
    };
    let (container_channel, message_ts) = match &event.container {
        SlackInteractionActionContainer::Message(m) => (m.channel_id.as_ref(), Some(&m.message_ts)),
        // Legacy attachments still sit on a message with a ts that chat.update accepts.
        SlackInteractionActionContainer::MessageAttachment(m) => (m.channel_id.as_ref(), Some(&m.message_ts)),
        // A Home tab or modal: there is no channel message to update.
        SlackInteractionActionContainer::View(_) => (None, None),
    };
    let channel = event
        .channel
        .as_ref()
        .map(|c| c.id.to_string())
        .or_else(|| container_channel.map(|c| c.to_string()))
        .unwrap_or_default();
    let message = match (message_ts, channel.is_empty()) {
        (Some(ts), false) => Some(MessageRef { channel: ChannelId(channel.clone()), id: ts.to_string() }),
        _ => None,
    };
    let actor = Actor {
        platform: Platform::Slack,
        user: UserId(event.user.as_ref().map(|u| u.id.to_string()).unwrap_or_default()),
        roles: Vec::new(),
        channel: ChannelId(channel),
    };
    Interaction::Click(Inbound::Click { actor, action, message, follow_up })
}

/// Keeps error text short enough for a response body and a log line.
fn short(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_without_required_fields_is_a_short_error() {
        assert_eq!(command_from_form(b"text=hi").unwrap_err(), ParseError::MissingField("response_url"));
        assert!(command_from_form(b"response_url=not%20a%20url&team_id=T").is_err());
        assert!(interaction_from_form(b"payload=%7B").is_err());
        assert_eq!(interaction_from_form(b"x=1").unwrap_err(), ParseError::MissingField("payload"));
    }

    #[test]
    fn short_cuts_on_char_boundaries() {
        let long = "é".repeat(500);
        assert_eq!(short(&long).chars().count(), 201);
    }
}
