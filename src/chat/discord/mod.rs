//! The Discord adapter: the only module that knows Discord's JSON.
//!
//! Two ways in, one way of thinking:
//! - HTTP interactions ([`endpoint::router`]): Discord POSTs each interaction to
//!   `/discord/interactions`; the request is verified with the application's Ed25519 public key
//!   before anything else looks at it.
//! - Gateway ([`gateway::run_gateway`]): a bot connection receives the same interactions over a
//!   websocket, for deployments that cannot expose a public URL.
//!
//! Both paths turn serenity's `Interaction` into a neutral [`crate::chat::Inbound`] with the
//! same functions ([`convert`]), answer within Discord's 3-second window or defer
//! ([`respond`]), and render neutral messages with [`render::render`]. Outbound posts, edits
//! and late answers go through [`api::DiscordSender`].

pub mod api;
pub mod commands;
pub mod convert;
pub mod endpoint;
pub mod gateway;
pub mod probe;
pub mod render;
pub mod respond;
pub mod verify;

pub use api::DiscordSender;
pub use commands::register_commands;
pub use endpoint::{router, DiscordState};
pub use gateway::run_gateway;
pub use render::render;

#[cfg(test)]
mod render_tests;
