//! The console: a chat platform that lives in costbot's own web pages (`costbot demo`, and the
//! web console of `costbot serve`).
//!
//! It is a platform like Slack and Discord. Outbound, [`ConsoleSender`] is the `Sender` the
//! outbox delivers alerts, approval cards and digests through; it stores each neutral
//! [`Message`] in the store (not in memory), so any replica can serve the channel view.
//! Inbound, the page's commands and clicks become [`Inbound`] events for the same
//! [`ChatHandler`] as every other platform, so the approval flow, the allow-list and the audit
//! are the same; [`Console`] turns the handler's [`Reply`] into stored messages.
//!
//! Invariant: only `chat::console` (its [`render`] module) and `web` produce console HTML.

pub mod render;

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{NaiveDateTime, Utc};

use crate::chat::{Actor, ChatHandler, FollowUp, Inbound, Reply, SendError, Sender};
use crate::domain::chat::message::{ActionRef, Block, Message};
use crate::domain::chat::{ChannelId, MessageRef, Platform, UserId};
use crate::domain::console::{ConsoleMessage, ConsolePost};
use crate::store::ConsoleStore;

/// Delivers outbox entries to console channels by storing them.
pub struct ConsoleSender {
    store: Arc<dyn ConsoleStore>,
}

impl ConsoleSender {
    /// A sender over the store the console pages read.
    pub fn new(store: Arc<dyn ConsoleStore>) -> ConsoleSender {
        ConsoleSender { store }
    }
}

fn store_error(error: anyhow::Error) -> SendError {
    // The store being briefly unavailable passes; the outbox retries with backoff.
    SendError::Retryable { reason: format!("{error:#}"), after: None }
}

#[async_trait]
impl Sender for ConsoleSender {
    async fn post(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        let post = ConsolePost { channel: channel.clone(), author: None, visible_to: None, message: message.clone() };
        let stored = self.store.post_console_message(&post, Utc::now().naive_utc()).await.map_err(store_error)?;
        Ok(MessageRef { channel: channel.clone(), id: stored.id.to_string() })
    }

    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), SendError> {
        let id: i64 =
            at.id.parse().map_err(|_| SendError::Permanent(format!("`{}` is not a console message id", at.id)))?;
        match self.store.update_console_message(&at.channel, id, message, Utc::now().naive_utc()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::Permanent(format!("console message {id} is not in channel {}", at.channel))),
            Err(error) => Err(store_error(error)),
        }
    }

    async fn follow_up(&self, _to: &FollowUp, _reply: &Reply) -> Result<(), SendError> {
        // The console answers every command and click in the request itself.
        Err(SendError::Permanent("the console has no follow-up channel; it answers synchronously".into()))
    }
}

/// Why a console click was refused before it reached the bot.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClickError {
    /// No such message in that channel.
    #[error("that message is not in this channel")]
    NoSuchMessage,
    /// The message has no button for that action.
    #[error("that button is not on that message")]
    NoSuchButton,
}

/// The console's inbound side: commands and clicks from the page, answered through the bot.
#[derive(Clone)]
pub struct Console {
    store: Arc<dyn ConsoleStore>,
    handler: Arc<dyn ChatHandler>,
}

impl Console {
    /// A console over the store and the bot every platform shares.
    pub fn new(store: Arc<dyn ConsoleStore>, handler: Arc<dyn ChatHandler>) -> Console {
        Console { store, handler }
    }

    /// The actor for a console user in a console channel. Console users have no roles.
    pub fn actor(user: &UserId, channel: &ChannelId) -> Actor {
        Actor { platform: Platform::Console, user: user.clone(), roles: Vec::new(), channel: channel.clone() }
    }

    /// Handles a typed `/cost …` command: the person's line and the answer are stored, in
    /// the channel for everyone when the answer is for everyone, otherwise only for them.
    pub async fn command(&self, user: &UserId, channel: &ChannelId, text: &str) -> Result<Vec<ConsoleMessage>> {
        let text = text.trim();
        let args = text.strip_prefix("/cost").map_or(text, str::trim_start);
        let event =
            Inbound::Command { actor: Self::actor(user, channel), text: args.to_string(), follow_up: FollowUp::None };
        let reply = self.handler.handle(event).await;
        let now = Utc::now().naive_utc();
        let (answer, public) = match reply {
            Reply::InChannel(m) => (Some(m), true),
            // A command has no original message; showing the answer only to the person who
            // asked is the cautious reading, as on Slack.
            Reply::Ephemeral(m) | Reply::UpdateOriginal(m) => (Some(m), false),
            Reply::Nothing => (None, false),
        };
        let visible_to = (!public).then(|| user.clone());
        let line = Message::plain(format!("/cost {args}"));
        let mut stored = vec![self.post(channel, Some(user.clone()), visible_to.clone(), line, now).await?];
        if let Some(answer) = answer {
            stored.push(self.post(channel, None, visible_to, answer, now).await?);
        }
        Ok(stored)
    }

    /// Handles a click on a button of a stored message. The button must be on that message
    /// (any version: a stale card is the bot's to refuse, with the reason). Returns the
    /// messages that changed or were added.
    pub async fn click(
        &self,
        user: &UserId,
        channel: &ChannelId,
        message_id: i64,
        action: ActionRef,
    ) -> Result<Result<Vec<ConsoleMessage>, ClickError>> {
        let Some(original) = self.store.console_message(message_id).await? else {
            return Ok(Err(ClickError::NoSuchMessage));
        };
        if &original.channel != channel || original.visible_to.as_ref().is_some_and(|v| v != user) {
            return Ok(Err(ClickError::NoSuchMessage));
        }
        if !has_button(&original.message, &action) {
            return Ok(Err(ClickError::NoSuchButton));
        }
        let event = Inbound::Click {
            actor: Self::actor(user, channel),
            action,
            message: Some(MessageRef { channel: channel.clone(), id: message_id.to_string() }),
            follow_up: FollowUp::None,
        };
        let reply = self.handler.handle(event).await;
        let now = Utc::now().naive_utc();
        let changed = match reply {
            Reply::UpdateOriginal(m) => {
                if !self.store.update_console_message(channel, message_id, &m, now).await? {
                    return Ok(Err(ClickError::NoSuchMessage));
                }
                self.store.console_message(message_id).await?.into_iter().collect()
            }
            Reply::Ephemeral(m) => vec![self.post(channel, None, Some(user.clone()), m, now).await?],
            Reply::InChannel(m) => vec![self.post(channel, None, None, m, now).await?],
            Reply::Nothing => Vec::new(),
        };
        Ok(Ok(changed))
    }

    async fn post(
        &self,
        channel: &ChannelId,
        author: Option<UserId>,
        visible_to: Option<UserId>,
        message: Message,
        now: NaiveDateTime,
    ) -> Result<ConsoleMessage> {
        let post = ConsolePost { channel: channel.clone(), author, visible_to, message };
        self.store.post_console_message(&post, now).await.context("cannot store a console message")
    }
}

/// True when the message has a button with this verb and target (any version).
pub fn has_button(message: &Message, action: &ActionRef) -> bool {
    message.blocks.iter().any(|block| match block {
        Block::Actions { buttons } => {
            buttons.iter().any(|b| b.action.verb == action.verb && b.action.target == action.target)
        }
        _ => false,
    })
}
