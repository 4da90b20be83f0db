//! costbot's neutral message model: what the bot says, before any platform's format.
//!
//! Alerts, answers, approval cards and digests are built as [`Message`]s by pure functions;
//! each chat adapter renders a `Message` into its own JSON (Slack Block Kit, Discord embeds and
//! components, the demo console's HTML). Keeping one model means every platform says the same
//! thing, and the platform modules are the only ones that know platform formats.

use serde::{Deserialize, Serialize};

/// A message to post or to update in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Plain text for notifications, screen readers and clients that cannot show blocks.
    pub fallback: String,
    /// The content, top to bottom.
    pub blocks: Vec<Block>,
    /// Accent for platforms that colour messages (Discord embeds, Slack attachments).
    pub tone: Tone,
    /// Files sent with the message (the digest's chart). Platforms that cannot take a file
    /// here, or refuse the upload, show each attachment's `alt` text instead, so nothing is
    /// lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file that goes with a message: for now, a PNG image.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name shown by the platform, e.g. `digest-2026-11-24.png`.
    pub name: String,
    /// Text that stands in for the image where it cannot be shown: a title plus a unicode
    /// sparkline, so a channel without upload permission still sees the trend.
    pub alt: String,
    /// The PNG bytes; base64 when serialized, so a message round-trips through the outbox.
    #[serde(with = "base64_bytes")]
    pub png: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    // The bytes would drown every log line and snapshot diff; their size says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("alt", &self.alt)
            .field("png_bytes", &self.png.len())
            .finish()
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The mood of a message, shown as a colour where the platform has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Informational (answers, digests).
    #[default]
    Neutral,
    /// Good news (resolved, savings realised).
    Good,
    /// Needs attention (medium anomalies, pending approvals).
    Warning,
    /// Urgent (high and critical anomalies, failures).
    Danger,
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A title line.
    Header {
        /// Plain text.
        text: String,
    },
    /// A paragraph of formatted text.
    Text {
        /// The spans, in order.
        spans: Vec<Span>,
    },
    /// Label/value pairs shown side by side where the platform can (Slack fields, Discord
    /// inline embed fields).
    Fields {
        /// `(label, value)` pairs; values are plain text.
        fields: Vec<(String, String)>,
    },
    /// A small table, rendered monospaced. Cells are plain text.
    Table {
        /// Column headings.
        columns: Vec<String>,
        /// Right-align this column (numbers).
        right_align: Vec<bool>,
        /// Rows of cells; each row has one cell per column.
        rows: Vec<Vec<String>>,
    },
    /// Small, secondary text (data freshness, "estimated", ids).
    Context {
        /// The spans, in order.
        spans: Vec<Span>,
    },
    /// A horizontal rule.
    Divider,
    /// A row of buttons.
    Actions {
        /// The buttons, left to right.
        buttons: Vec<Button>,
    },
}

/// Inline formatting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Span {
    /// Ordinary text.
    Plain(String),
    /// Bold text.
    Bold(String),
    /// Monospaced text (ids, amounts in tables).
    Code(String),
    /// A link: `(url, label)`.
    Link((String, String)),
    /// A mention of a chat user: `(platform, user id)`. It notifies only on its own
    /// platform (Slack `<@U…>`, Discord `<@id>`); elsewhere it shows as `@id`.
    Mention((super::Platform, String)),
}

/// A button. Its `action` is what comes back when it is clicked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// The label (Slack allows 75 characters, Discord 80).
    pub label: String,
    /// What a click means, encoded into the platform's action id / custom id.
    pub action: ActionRef,
    /// Look.
    pub style: ButtonStyle,
    /// A confirmation dialog shown before a destructive action goes through.
    pub confirm: Option<Confirm>,
}

/// Button look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ButtonStyle {
    /// The platform's default.
    Default,
    /// Emphasised (Approve on a harmless action).
    Primary,
    /// Red: the action stops, terminates or deletes something.
    Danger,
}

/// "Are you sure?" before a click takes effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    /// Dialog title.
    pub title: String,
    /// What will happen.
    pub text: String,
    /// Label of the confirming button.
    pub confirm: String,
    /// Label of the cancelling button.
    pub deny: String,
}

/// What a button click asks for: a verb, the thing it applies to, and the version of that
/// thing the person saw, so a click on a stale card cannot act on a changed one.
///
/// Encoded as `verb:target:version` (at most 100 characters, Discord's custom_id limit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActionRef {
    /// What to do.
    pub verb: Verb,
    /// The id of the anomaly or proposal.
    pub target: String,
    /// The version shown on the card.
    pub version: u32,
}

/// Button verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// Approve a proposal.
    Approve,
    /// Deny a proposal.
    Deny,
    /// Snooze a proposal for 7 days.
    Snooze,
    /// Acknowledge an anomaly.
    Ack,
    /// Mute an anomaly for 7 days.
    Mute,
    /// Feedback on an anomaly: it was planned; its new level is normal from now on.
    Expected,
    /// Feedback on an anomaly: a false alarm; raise the series' floor.
    #[serde(rename = "notanomaly")]
    NotAnAnomaly,
    /// Feedback on an anomaly: a true positive.
    Real,
    /// The resource's owner keeps it: the proposal is not acted on for a while.
    Keep,
    /// Pause an off-hours schedule until someone resumes it.
    Pause,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Approve => "approve",
            Verb::Deny => "deny",
            Verb::Snooze => "snooze",
            Verb::Ack => "ack",
            Verb::Mute => "mute",
            Verb::Expected => "expected",
            Verb::NotAnAnomaly => "notanomaly",
            Verb::Real => "real",
            Verb::Keep => "keep",
            Verb::Pause => "pause",
        }
    }

    fn parse(text: &str) -> Option<Verb> {
        [
            Verb::Approve,
            Verb::Deny,
            Verb::Snooze,
            Verb::Ack,
            Verb::Mute,
            Verb::Expected,
            Verb::NotAnAnomaly,
            Verb::Real,
            Verb::Keep,
            Verb::Pause,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }
}

/// Longest encoded action (Discord's custom_id limit; Slack allows 255 for action_id).
pub const MAX_ACTION_LEN: usize = 100;

/// Why an action string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a costbot action")]
pub struct BadAction(pub String);

impl ActionRef {
    /// Encodes as `verb:target:version`.
    pub fn encode(&self) -> String {
        format!("{}:{}:{}", self.verb.as_str(), self.target, self.version)
    }

    /// Decodes what a platform sent back; anything else is refused, never trusted.
    pub fn decode(text: &str) -> Result<ActionRef, BadAction> {
        let bad = || BadAction(text.chars().take(MAX_ACTION_LEN).collect());
        if text.len() > MAX_ACTION_LEN {
            return Err(bad());
        }
        let mut parts = text.splitn(3, ':');
        let (Some(verb), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let verb = Verb::parse(verb).ok_or_else(bad)?;
        let valid_target =
            !target.is_empty() && target.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let version = version.parse().map_err(|_| bad())?;
        if !valid_target {
            return Err(bad());
        }
        Ok(ActionRef { verb, target: target.to_string(), version })
    }
}

impl Message {
    /// The message with its attachments replaced by their alt text (a context line each), for
    /// a channel where files cannot be uploaded: the reader still gets the trend.
    pub fn with_attachments_as_text(&self) -> Message {
        let mut blocks = self.blocks.clone();
        blocks.extend(self.attachments.iter().map(|a| Block::Context { spans: vec![Span::Plain(a.alt.clone())] }));
        Message { fallback: self.fallback.clone(), blocks, tone: self.tone, attachments: Vec::new() }
    }

    /// A message of plain paragraphs, for short replies and errors.
    pub fn plain(text: impl Into<String>) -> Message {
        let text = text.into();
        Message {
            fallback: text.clone(),
            blocks: vec![Block::Text { spans: vec![Span::Plain(text)] }],
            tone: Tone::Neutral,
            attachments: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_garbage_is_refused() {
        let action = ActionRef { verb: Verb::Approve, target: "pr-0123abcd".into(), version: 3 };
        assert_eq!(action.encode(), "approve:pr-0123abcd:3");
        assert_eq!(ActionRef::decode(&action.encode()).unwrap(), action);
        for bad in
            ["", "approve", "approve:x", "launch:x:1", "approve::1", "approve:x:-1", "approve:x y:1", "approve:x:1:2"]
        {
            assert!(ActionRef::decode(bad).is_err(), "{bad}");
        }
        assert!(ActionRef::decode(&format!("ack:{}:1", "a".repeat(200))).is_err());
        for verb in [Verb::Expected, Verb::NotAnAnomaly, Verb::Real] {
            let feedback = ActionRef { verb, target: "an-5f0c2a9e41d7b3c8".into(), version: 2 };
            assert_eq!(ActionRef::decode(&feedback.encode()).unwrap(), feedback);
        }
    }

    #[test]
    fn attachments_round_trip_as_base64_and_are_omitted_when_empty() {
        let plain = Message::plain("hello");
        assert!(!serde_json::to_string(&plain).unwrap().contains("attachments"));
        let png = vec![0x89, b'P', b'N', b'G', 0, 255];
        let with = Message {
            attachments: vec![Attachment { name: "c.png".into(), alt: "▁▃█".into(), png: png.clone() }],
            ..plain
        };
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["attachments"][0]["png"], "iVBORwD/");
        let back: Message = serde_json::from_value(json).unwrap();
        assert_eq!(back.attachments[0].png, png);
    }
}
