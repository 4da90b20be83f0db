//! What the chat console stores: posts into console channels and the stored messages the
//! console pages show.
//!
//! The console platform lives in `chat::console`; these types are here so the store, which
//! keeps the rows, depends only on `domain`.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::chat::message::Message;
use super::chat::{ChannelId, UserId};

/// A message to store in a console channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsolePost {
    /// The channel.
    pub channel: ChannelId,
    /// `None` when costbot says it; the user who typed it otherwise.
    pub author: Option<UserId>,
    /// `None` when everyone in the channel sees it; the one user who does otherwise.
    pub visible_to: Option<UserId>,
    /// The content.
    pub message: Message,
}

/// A stored console message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsoleMessage {
    /// Its id (also its [`MessageRef`](super::chat::MessageRef) id, as text).
    pub id: i64,
    /// The number of its latest change; pages ask for changes after the last one they saw.
    pub seq: i64,
    /// The channel.
    pub channel: ChannelId,
    /// `None` when costbot said it.
    pub author: Option<UserId>,
    /// `None` when everyone sees it.
    pub visible_to: Option<UserId>,
    /// The content.
    pub message: Message,
    /// When it was posted.
    pub posted_at: NaiveDateTime,
    /// When it last changed.
    pub updated_at: NaiveDateTime,
}
