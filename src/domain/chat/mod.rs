//! The platform-neutral chat vocabulary: which platform, which channel and user, which posted
//! message, and (in [`message`]) what the bot says.
//!
//! These types live in `domain` rather than in `chat` because the store keeps them (outbox
//! rows, console messages, digests) and the store may only depend on `domain`.

pub mod message;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which chat platform an event came from or a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
    /// The demo's local console.
    Console,
}

impl Platform {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Console => "console",
        }
    }
}

/// A chat user id on its platform (Slack `U0123ABC`, a Discord snowflake).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub String);

/// A chat channel id on its platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference to a posted message, to edit it in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The channel it is in.
    pub channel: ChannelId,
    /// Slack `ts`, Discord message id.
    pub id: String,
}
