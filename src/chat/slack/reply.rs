//! The JSON Slack expects when costbot answers: in the HTTP response to a slash command or a
//! click, and in a POST to a `response_url`. Both take the same body.

use serde::Serialize;
use slack_morphism::prelude::SlackBlock;

use super::render;
use crate::chat::Reply;
use crate::domain::chat::message::Message;

/// What the reply answers; decides how `Reply` variants map onto Slack's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering {
    /// A slash command: there is no original message to replace.
    Command,
    /// A button click on a message.
    Click,
}

/// A response body (`response_type`, `replace_original`, `text`, `blocks`).
#[derive(Debug, Clone, Serialize)]
pub struct ResponseBody {
    /// `ephemeral` or `in_channel`; absent when replacing the original message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<&'static str>,
    /// `true` to replace the clicked message, `false` to post a new one next to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// The fallback text.
    pub text: String,
    /// The rendered blocks.
    pub blocks: Vec<SlackBlock>,
}

/// The body for `reply`, or `None` when there is nothing to say (an empty 200 is the answer).
pub fn response_body(reply: &Reply, answering: Answering) -> Option<ResponseBody> {
    let (message, response_type, replace_original) = match (reply, answering) {
        (Reply::Nothing, _) => return None,
        (Reply::Ephemeral(m), Answering::Command) => (m, Some("ephemeral"), None),
        (Reply::InChannel(m), Answering::Command) => (m, Some("in_channel"), None),
        // A command has no original message; showing the answer only to the person who asked
        // is the cautious reading.
        (Reply::UpdateOriginal(m), Answering::Command) => (m, Some("ephemeral"), None),
        (Reply::Ephemeral(m), Answering::Click) => (m, Some("ephemeral"), Some(false)),
        (Reply::InChannel(m), Answering::Click) => (m, Some("in_channel"), Some(false)),
        (Reply::UpdateOriginal(m), Answering::Click) => (m, None, Some(true)),
    };
    Some(body(message, response_type, replace_original))
}

/// The body for a follow-up, where the `Reply` alone decides: replacing the original makes
/// sense only after a click, and Slack ignores `replace_original` after a command.
pub fn follow_up_body(reply: &Reply) -> Option<ResponseBody> {
    response_body(reply, Answering::Click)
}

fn body(message: &Message, response_type: Option<&'static str>, replace_original: Option<bool>) -> ResponseBody {
    ResponseBody {
        response_type,
        replace_original,
        text: render::fallback_text(message),
        blocks: render::blocks(message),
    }
}

/// The reply to a click on a button costbot does not know.
pub fn unknown_button() -> Reply {
    Reply::Ephemeral(Message::plain(
        "I don't know that button. It may come from an older version of this message; ask again with /cost.",
    ))
}

/// The reply when the handler failed unexpectedly (it panicked): the person learns something
/// went wrong instead of seeing nothing.
pub fn internal_error() -> Reply {
    Reply::Ephemeral(Message::plain("Something went wrong on costbot's side. Please try again in a minute."))
}

/// The reply to a verified request from a workspace, enterprise or app costbot is not set up
/// for: no data, and nothing about which ids are configured.
pub fn foreign_workspace() -> Reply {
    Reply::Ephemeral(Message::plain("This workspace is not set up for costbot."))
}
