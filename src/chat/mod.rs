//! Chat: the neutral message model, the neutral inbound events, and the platform adapters.
//!
//! Invariant: only `chat::slack` touches Slack JSON and only `chat::discord` touches Discord
//! JSON. Everything else speaks [`Inbound`], [`Reply`] and the neutral
//! [`Message`](crate::domain::chat::message::Message).

pub mod console;
pub mod discord;
pub mod dispatch;
pub mod outbox;
pub mod slack;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::chat::message::{ActionRef, Message};
use crate::domain::chat::{ChannelId, MessageRef, Platform, UserId};

/// Who did something, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The platform.
    pub platform: Platform,
    /// The user.
    pub user: UserId,
    /// The user's role ids (Discord); empty on Slack.
    pub roles: Vec<String>,
    /// The channel the event happened in.
    pub channel: ChannelId,
}

/// Where a late answer goes when the platform's 3-second window has passed.
///
/// Both kinds are capabilities: whoever holds a `response_url` or an interaction token can
/// answer as costbot in that conversation. `Debug` (and so every log line that prints an
/// event) shows only where they point, never the secret part.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FollowUp {
    /// Slack's `response_url` (valid 30 minutes, 5 uses).
    SlackResponseUrl(String),
    /// Discord's interaction webhook (valid 15 minutes).
    DiscordInteraction {
        /// The application id.
        application_id: String,
        /// The interaction token.
        token: String,
    },
    /// No follow-up channel (the console answers synchronously).
    None,
}

impl std::fmt::Debug for FollowUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FollowUp::SlackResponseUrl(url) => {
                // The host says where it points; the path is the capability.
                let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string));
                write!(f, "SlackResponseUrl({}/[redacted])", host.as_deref().unwrap_or("?"))
            }
            FollowUp::DiscordInteraction { application_id, .. } => f
                .debug_struct("DiscordInteraction")
                .field("application_id", application_id)
                .field("token", &"[redacted]")
                .finish(),
            FollowUp::None => f.write_str("None"),
        }
    }
}

/// Something a person did in chat, in platform-neutral form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Inbound {
    /// A `/cost …` command; `text` is everything after the command name.
    Command {
        /// Who typed it, where.
        actor: Actor,
        /// The arguments.
        text: String,
        /// Where a late answer goes.
        follow_up: FollowUp,
    },
    /// A button click.
    Click {
        /// Who clicked, where.
        actor: Actor,
        /// What the button means.
        action: ActionRef,
        /// The message the button is on, so it can be updated.
        message: Option<MessageRef>,
        /// Where a late answer goes.
        follow_up: FollowUp,
    },
}

/// What the bot answers to an inbound event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Only the person who asked sees it (help, errors, refusals).
    Ephemeral(Message),
    /// Everyone in the channel sees it.
    InChannel(Message),
    /// Replace the message the clicked button was on.
    UpdateOriginal(Message),
    /// Nothing to say (the effect shows up elsewhere).
    Nothing,
}

/// The platform-neutral brain behind every adapter: commands and clicks in, replies out.
#[async_trait]
pub trait ChatHandler: Send + Sync {
    /// Handles one event. Must not fail: errors become a helpful [`Reply`].
    async fn handle(&self, event: Inbound) -> Reply;

    /// Records a request an adapter refused before it became an event (a verified Slack
    /// request from a workspace or app costbot is not configured for): the bot audits it.
    /// Handlers that keep no audit log ignore it.
    async fn refused(&self, _actor: &Actor, _reason: &str) {}
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (rate limited, platform outage, network): the outbox keeps
    /// the message and retries, after `after` if the platform said how long to wait.
    #[error("temporary failure: {reason}")]
    Retryable {
        /// The platform's or the network's words.
        reason: String,
        /// The platform's Retry-After, if it gave one.
        after: Option<std::time::Duration>,
    },
    /// Trying again will not help (channel not found, not in channel, bad token, invalid
    /// blocks): the outbox records the failure and stops.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Posts and edits messages on one platform. The outbox calls it; it may retry briefly
/// itself, but long waits are the outbox's job.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Posts a new message and returns where it is.
    async fn post(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError>;
    /// Replaces a posted message's content.
    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), SendError>;
    /// Answers through a follow-up channel (Slack `response_url`, Discord interaction webhook).
    async fn follow_up(&self, to: &FollowUp, reply: &Reply) -> Result<(), SendError>;
    /// A link people can click to open a posted message, where the platform can make one.
    async fn permalink(&self, _at: &MessageRef) -> Option<String> {
        None
    }
    /// Posts the first message of outbox thread `thread`. Platforms that can tag a message with
    /// the thread (Slack metadata) or deduplicate a repeated post (Discord's nonce) do, so an
    /// interrupted post is found or refused instead of repeated.
    async fn post_thread(
        &self,
        channel: &ChannelId,
        _thread: &str,
        message: &Message,
    ) -> Result<MessageRef, SendError> {
        self.post(channel, message).await
    }
    /// Posts the first message of reply thread `thread` as a reply to the posted message
    /// `parent` (Slack: in its thread, `thread_ts`; Discord: with a message reference).
    /// Platforms without replies post it beside the parent.
    async fn post_reply(&self, parent: &MessageRef, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        self.post_thread(&parent.channel, thread, message).await
    }
    /// Looks for the message an earlier, interrupted [`Sender::post_thread`] of `thread` made;
    /// `None` when there is none or the platform cannot tell.
    async fn find_posted(&self, _channel: &ChannelId, _thread: &str) -> Result<Option<MessageRef>, SendError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_never_reach_debug_output() {
        let actor = Actor {
            platform: Platform::Slack,
            user: UserId("U1".into()),
            roles: vec![],
            channel: ChannelId("C1".into()),
        };
        let slack = Inbound::Command {
            actor: actor.clone(),
            text: "mtd".into(),
            follow_up: FollowUp::SlackResponseUrl("https://hooks.slack.com/commands/T1/123/SeCrEtPaTh".into()),
        };
        let shown = format!("{slack:?}");
        assert!(shown.contains("hooks.slack.com/[redacted]") && !shown.contains("SeCrEtPaTh"), "{shown}");
        let discord = FollowUp::DiscordInteraction { application_id: "42".into(), token: "aW50ZXJhY3Rpb24".into() };
        let shown = format!(
            "{discord:?} {:#?}",
            Inbound::Click {
                actor,
                action: ActionRef::decode("ack:an-1:1").unwrap(),
                message: None,
                follow_up: discord.clone(),
            }
        );
        assert!(shown.contains("[redacted]") && !shown.contains("aW50ZXJhY3Rpb24"), "{shown}");
    }
}
