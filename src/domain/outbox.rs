//! What the chat outbox stores: entries to deliver, claimed deliveries and how they ended.
//!
//! The delivery worker lives in `chat::outbox`; these types are here so the store, which keeps
//! the rows, depends only on `domain`.

use chrono::NaiveDateTime;

use super::chat::message::Message;
use super::chat::{ChannelId, Platform};

/// A message to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The platform.
    pub platform: Platform,
    /// The channel.
    pub channel: ChannelId,
    /// What the message is about (e.g. an anomaly id); one posted message per thread.
    pub thread: String,
    /// The content.
    pub message: Message,
    /// Enqueuing the same key twice stores one entry (e.g. `thread` plus its version).
    pub dedupe_key: String,
}

/// An entry claimed for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The entry's id.
    pub id: i64,
    /// The platform.
    pub platform: Platform,
    /// The channel.
    pub channel: ChannelId,
    /// The thread.
    pub thread: String,
    /// The content to show.
    pub message: Message,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The thread's posted message id, if it was posted already (then this is an edit).
    pub posted: Option<String>,
    /// True when an earlier claim set out to post this thread and no message id was recorded:
    /// that post may have reached the platform, so the sender looks for it before posting.
    pub maybe_posted: bool,
    /// The token of this claim's thread lease. Finishing releases the lease only while the
    /// token still holds it, so a worker whose lease ran out cannot release another's.
    pub lock: String,
}

/// What finishing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The outcome is recorded and the thread's lease released.
    Recorded,
    /// The lease had run out and another claim holds it now: nothing was recorded but a
    /// posted message's id for a thread that had none, and the new holder's lease stands.
    LeaseLost,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// Posted or edited; the platform's message id.
    Sent {
        /// Slack `ts`, Discord message id.
        message_id: String,
    },
    /// Try again at `at`.
    Retry {
        /// When.
        at: NaiveDateTime,
        /// Why it failed this time.
        error: String,
    },
    /// Give up.
    Failed {
        /// Why.
        error: String,
    },
}

/// Counts by status, for tests, metrics and the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting to be delivered.
    pub pending: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up on.
    pub failed: u64,
    /// Replaced by newer content for the same thread before being sent.
    pub superseded: u64,
}

/// What joins a reply's thread key to its parent's: `pr-…/reply/reminder` is posted as a
/// reply to the message of thread `pr-…` in the same channel.
const REPLY_MARK: &str = "/reply/";

/// The thread key of a reply named `name` to the message of thread `parent`.
pub fn reply_thread(parent: &str, name: &str) -> String {
    format!("{parent}{REPLY_MARK}{name}")
}

/// The parent thread of a reply's thread key; `None` for an ordinary thread.
pub fn reply_parent(thread: &str) -> Option<&str> {
    thread.split_once(REPLY_MARK).map(|(parent, _)| parent).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_names_its_parent_and_ordinary_threads_have_none() {
        let reply = reply_thread("pr-00ff", "reminder");
        assert_eq!(reply, "pr-00ff/reply/reminder");
        assert_eq!(reply_parent(&reply), Some("pr-00ff"));
        assert_eq!(reply_parent("pr-00ff"), None);
        assert_eq!(reply_parent("an-1/v2"), None);
        assert_eq!(reply_parent("/reply/x"), None);
    }
}
