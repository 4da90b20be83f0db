//! Answering an interaction inside Discord's 3-second window.
//!
//! Discord invalidates the interaction token if the first answer takes longer than three
//! seconds. The handler gets [`DEADLINE`]; if it is done by then its reply is the answer,
//! otherwise Discord is told "deferred" at once and the reply follows through the
//! interaction webhook when it is ready (the token stays valid for 15 minutes).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use serenity::model::application::Interaction;

use super::api::DiscordSender;
use super::render::render;
use crate::chat::{ChatHandler, Inbound, Reply};
use crate::domain::chat::message::{Message, Tone};

/// How long the handler may take before the answer is deferred. Discord allows 3 s for the
/// whole round trip, so half a second is left for the network.
pub const DEADLINE: Duration = Duration::from_millis(2500);

/// Discord's message flag for "only the person who asked sees this".
pub const EPHEMERAL: u64 = 64;

/// Which kind of interaction is answered; it decides which callback types are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A slash command (APPLICATION_COMMAND).
    Command,
    /// A button (MESSAGE_COMPONENT): may also update the message it is on.
    Component,
}

impl Kind {
    /// The kind of a neutral event.
    pub fn of(event: &Inbound) -> Kind {
        match event {
            Inbound::Command { .. } => Kind::Command,
            Inbound::Click { .. } => Kind::Component,
        }
    }
}

/// PONG, the answer to Discord's PING.
pub fn pong() -> Value {
    json!({"type": 1})
}

/// A rendered message with the ephemeral flag set.
pub fn ephemeral_data(message: &Message) -> Value {
    let mut data = render(message);
    data["flags"] = json!(EPHEMERAL);
    data
}

/// The immediate answer for a reply the handler gave in time.
pub fn callback(kind: Kind, reply: &Reply) -> Value {
    match (kind, reply) {
        (_, Reply::Ephemeral(m)) => json!({"type": 4, "data": ephemeral_data(m)}),
        (_, Reply::InChannel(m)) | (Kind::Command, Reply::UpdateOriginal(m)) => json!({"type": 4, "data": render(m)}),
        (Kind::Component, Reply::UpdateOriginal(m)) => json!({"type": 7, "data": render(m)}),
        // A click that changes nothing visible is acknowledged without touching the message.
        (Kind::Component, Reply::Nothing) => json!({"type": 6}),
        // A command must show something; a short private "done" is the least noisy.
        (Kind::Command, Reply::Nothing) => json!({"type": 4, "data": ephemeral_data(&Message::plain("Done."))}),
    }
}

/// "Working on it": a loading message for commands, a silent acknowledgement for clicks.
pub fn deferred(kind: Kind) -> Value {
    match kind {
        Kind::Command => json!({"type": 5}),
        Kind::Component => json!({"type": 6}),
    }
}

/// The private answer to a button costbot does not recognise (an old card, another app's id).
pub fn unknown_button() -> Value {
    json!({"type": 4, "data": ephemeral_data(&Message::plain("I don't know that button. It may be from an older version of this message."))})
}

/// The answer to interaction types costbot does not offer.
pub fn unsupported(interaction: &Interaction) -> Value {
    match interaction {
        Interaction::Autocomplete(_) => json!({"type": 8, "data": {"choices": []}}),
        _ => {
            json!({"type": 4, "data": ephemeral_data(&Message::plain("costbot does not handle that kind of interaction."))})
        }
    }
}

fn sorry() -> Reply {
    Reply::Ephemeral(Message {
        tone: Tone::Danger,
        ..Message::plain("Sorry, something went wrong on costbot's side. It has been logged; please try again.")
    })
}

/// Runs the handler and returns the immediate callback body: the reply itself if it came
/// within `deadline`, otherwise a deferral, with the reply sent later through `sender`.
///
/// The handler runs in its own task, so a panic in it becomes an apology, never a 500.
pub async fn answer(
    handler: Arc<dyn ChatHandler>,
    event: Inbound,
    deadline: Duration,
    sender: Arc<DiscordSender>,
) -> Value {
    let kind = Kind::of(&event);
    let follow_up = match &event {
        Inbound::Command { follow_up, .. } | Inbound::Click { follow_up, .. } => follow_up.clone(),
    };
    let mut task = tokio::spawn(async move { handler.handle(event).await });
    match tokio::time::timeout(deadline, &mut task).await {
        Ok(Ok(reply)) => callback(kind, &reply),
        Ok(Err(error)) => {
            tracing::error!(%error, "the chat handler failed on a Discord interaction");
            callback(kind, &sorry())
        }
        Err(_) => {
            tokio::spawn(async move {
                let reply = task.await.unwrap_or_else(|error| {
                    tracing::error!(%error, "the chat handler failed on a deferred Discord interaction");
                    sorry()
                });
                if let Err(error) = sender.deliver_late(kind, &follow_up, &reply).await {
                    tracing::warn!(%error, "a late Discord answer could not be delivered");
                }
            });
            deferred(kind)
        }
    }
}
