//! Version 1 of a stored chat [`Message`] (outbox entries and console messages): the shape
//! `serde_json` gave the domain type when versioning began, frozen here.

use anyhow::{Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::domain::chat::message::{
    ActionRef, Attachment, Block, Button, ButtonStyle, Confirm, Message, Span, Tone, Verb,
};

/// A stored message.
#[derive(Debug, Serialize, Deserialize)]
pub(in crate::store) struct StoredMessage {
    fallback: String,
    blocks: Vec<StoredBlock>,
    tone: StoredTone,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<StoredAttachment>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredAttachment {
    name: String,
    alt: String,
    /// Base64 (standard alphabet, padded).
    png: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StoredTone {
    Neutral,
    Good,
    Warning,
    Danger,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StoredBlock {
    Header { text: String },
    Text { spans: Vec<StoredSpan> },
    Fields { fields: Vec<(String, String)> },
    Table { columns: Vec<String>, right_align: Vec<bool>, rows: Vec<Vec<String>> },
    Context { spans: Vec<StoredSpan> },
    Divider,
    Actions { buttons: Vec<StoredButton> },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
enum StoredSpan {
    Plain(String),
    Bold(String),
    Code(String),
    Link((String, String)),
    /// `(platform name, user id)`.
    Mention((String, String)),
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredButton {
    label: String,
    action: StoredAction,
    style: StoredButtonStyle,
    confirm: Option<StoredConfirm>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredAction {
    verb: StoredVerb,
    target: String,
    version: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StoredVerb {
    Approve,
    Deny,
    Snooze,
    Ack,
    Mute,
    Expected,
    #[serde(rename = "notanomaly")]
    NotAnAnomaly,
    Real,
    Keep,
    Pause,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StoredButtonStyle {
    Default,
    Primary,
    Danger,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredConfirm {
    title: String,
    text: String,
    confirm: String,
    deny: String,
}

impl From<&Message> for StoredMessage {
    fn from(m: &Message) -> StoredMessage {
        let base64 = base64::engine::general_purpose::STANDARD;
        StoredMessage {
            fallback: m.fallback.clone(),
            blocks: m.blocks.iter().map(StoredBlock::from).collect(),
            tone: match m.tone {
                Tone::Neutral => StoredTone::Neutral,
                Tone::Good => StoredTone::Good,
                Tone::Warning => StoredTone::Warning,
                Tone::Danger => StoredTone::Danger,
            },
            attachments: m
                .attachments
                .iter()
                .map(|a| StoredAttachment { name: a.name.clone(), alt: a.alt.clone(), png: base64.encode(&a.png) })
                .collect(),
        }
    }
}

impl TryFrom<StoredMessage> for Message {
    type Error = anyhow::Error;

    fn try_from(m: StoredMessage) -> Result<Message> {
        let base64 = base64::engine::general_purpose::STANDARD;
        let attachments = m
            .attachments
            .into_iter()
            .map(|a| {
                let png = base64.decode(&a.png).with_context(|| format!("attachment {} is not base64", a.name))?;
                Ok(Attachment { name: a.name, alt: a.alt, png })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Message {
            fallback: m.fallback,
            blocks: m.blocks.into_iter().map(Block::from).collect(),
            tone: match m.tone {
                StoredTone::Neutral => Tone::Neutral,
                StoredTone::Good => Tone::Good,
                StoredTone::Warning => Tone::Warning,
                StoredTone::Danger => Tone::Danger,
            },
            attachments,
        })
    }
}

impl From<&Block> for StoredBlock {
    fn from(b: &Block) -> StoredBlock {
        let spans = |s: &[Span]| s.iter().map(StoredSpan::from).collect();
        match b {
            Block::Header { text } => StoredBlock::Header { text: text.clone() },
            Block::Text { spans: s } => StoredBlock::Text { spans: spans(s) },
            Block::Fields { fields } => StoredBlock::Fields { fields: fields.clone() },
            Block::Table { columns, right_align, rows } => {
                StoredBlock::Table { columns: columns.clone(), right_align: right_align.clone(), rows: rows.clone() }
            }
            Block::Context { spans: s } => StoredBlock::Context { spans: spans(s) },
            Block::Divider => StoredBlock::Divider,
            Block::Actions { buttons } => {
                StoredBlock::Actions { buttons: buttons.iter().map(StoredButton::from).collect() }
            }
        }
    }
}

impl From<StoredBlock> for Block {
    fn from(b: StoredBlock) -> Block {
        let spans = |s: Vec<StoredSpan>| s.into_iter().map(Span::from).collect();
        match b {
            StoredBlock::Header { text } => Block::Header { text },
            StoredBlock::Text { spans: s } => Block::Text { spans: spans(s) },
            StoredBlock::Fields { fields } => Block::Fields { fields },
            StoredBlock::Table { columns, right_align, rows } => Block::Table { columns, right_align, rows },
            StoredBlock::Context { spans: s } => Block::Context { spans: spans(s) },
            StoredBlock::Divider => Block::Divider,
            StoredBlock::Actions { buttons } => {
                Block::Actions { buttons: buttons.into_iter().map(Button::from).collect() }
            }
        }
    }
}

impl From<&Span> for StoredSpan {
    fn from(s: &Span) -> StoredSpan {
        match s {
            Span::Plain(t) => StoredSpan::Plain(t.clone()),
            Span::Bold(t) => StoredSpan::Bold(t.clone()),
            Span::Code(t) => StoredSpan::Code(t.clone()),
            Span::Link(l) => StoredSpan::Link(l.clone()),
            Span::Mention((platform, user)) => StoredSpan::Mention((platform.as_str().to_string(), user.clone())),
        }
    }
}

impl From<StoredSpan> for Span {
    fn from(s: StoredSpan) -> Span {
        match s {
            StoredSpan::Plain(t) => Span::Plain(t),
            StoredSpan::Bold(t) => Span::Bold(t),
            StoredSpan::Code(t) => Span::Code(t),
            StoredSpan::Link(l) => Span::Link(l),
            // A mention whose platform this costbot does not know shows as text.
            StoredSpan::Mention((platform, user)) => match crate::store::outbox_sql::parse_platform(&platform) {
                Ok(platform) => Span::Mention((platform, user)),
                Err(_) => Span::Plain(format!("@{user}")),
            },
        }
    }
}

impl From<&Button> for StoredButton {
    fn from(b: &Button) -> StoredButton {
        StoredButton {
            label: b.label.clone(),
            action: StoredAction::from(&b.action),
            style: match b.style {
                ButtonStyle::Default => StoredButtonStyle::Default,
                ButtonStyle::Primary => StoredButtonStyle::Primary,
                ButtonStyle::Danger => StoredButtonStyle::Danger,
            },
            confirm: b.confirm.as_ref().map(|c| StoredConfirm {
                title: c.title.clone(),
                text: c.text.clone(),
                confirm: c.confirm.clone(),
                deny: c.deny.clone(),
            }),
        }
    }
}

impl From<StoredButton> for Button {
    fn from(b: StoredButton) -> Button {
        Button {
            label: b.label,
            action: ActionRef::from(b.action),
            style: match b.style {
                StoredButtonStyle::Default => ButtonStyle::Default,
                StoredButtonStyle::Primary => ButtonStyle::Primary,
                StoredButtonStyle::Danger => ButtonStyle::Danger,
            },
            confirm: b.confirm.map(|c| Confirm { title: c.title, text: c.text, confirm: c.confirm, deny: c.deny }),
        }
    }
}

impl From<&ActionRef> for StoredAction {
    fn from(a: &ActionRef) -> StoredAction {
        let verb = match a.verb {
            Verb::Approve => StoredVerb::Approve,
            Verb::Deny => StoredVerb::Deny,
            Verb::Snooze => StoredVerb::Snooze,
            Verb::Ack => StoredVerb::Ack,
            Verb::Mute => StoredVerb::Mute,
            Verb::Expected => StoredVerb::Expected,
            Verb::NotAnAnomaly => StoredVerb::NotAnAnomaly,
            Verb::Real => StoredVerb::Real,
            Verb::Keep => StoredVerb::Keep,
            Verb::Pause => StoredVerb::Pause,
        };
        StoredAction { verb, target: a.target.clone(), version: a.version }
    }
}

impl From<StoredAction> for ActionRef {
    fn from(a: StoredAction) -> ActionRef {
        let verb = match a.verb {
            StoredVerb::Approve => Verb::Approve,
            StoredVerb::Deny => Verb::Deny,
            StoredVerb::Snooze => Verb::Snooze,
            StoredVerb::Ack => Verb::Ack,
            StoredVerb::Mute => Verb::Mute,
            StoredVerb::Expected => Verb::Expected,
            StoredVerb::NotAnAnomaly => Verb::NotAnAnomaly,
            StoredVerb::Real => Verb::Real,
            StoredVerb::Keep => Verb::Keep,
            StoredVerb::Pause => Verb::Pause,
        };
        ActionRef { verb, target: a.target, version: a.version }
    }
}

/// The JSON to store for a message.
pub(in crate::store) fn encode_message(message: &Message) -> Result<String> {
    super::encode(&StoredMessage::from(message))
}

/// The message a stored JSON record holds.
pub(in crate::store) fn decode_message(text: &str) -> Result<Message> {
    Message::try_from(super::decode::<StoredMessage>(text, "message")?)
}
