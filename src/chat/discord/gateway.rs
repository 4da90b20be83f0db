//! Gateway mode: receive interactions over a bot websocket instead of a public endpoint.
//!
//! Useful when costbot cannot be reached from the internet. Interactions arrive as
//! serenity's `Interaction`, go through the same [`convert`] and [`respond::answer`] as in
//! HTTP mode, and the callback is POSTed with `create_interaction_response` (in HTTP mode it
//! is the body of Discord's request instead).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Ready};
use serenity::async_trait;

use super::api::DiscordSender;
use super::convert::{convert, Converted};
use super::respond;
use crate::chat::ChatHandler;

/// The handler's share of the 3-second window over the gateway: the callback is a separate
/// HTTP request here, so it gets a little more room than in HTTP mode.
pub const GATEWAY_DEADLINE: Duration = Duration::from_millis(2000);

struct Gateway {
    token: SecretString,
    handler: Arc<dyn ChatHandler>,
    /// Built on the first interaction, from the application id it carries.
    sender: OnceLock<Arc<DiscordSender>>,
}

impl Gateway {
    fn sender(&self, application_id: u64) -> anyhow::Result<Arc<DiscordSender>> {
        if let Some(sender) = self.sender.get() {
            return Ok(sender.clone());
        }
        let sender = Arc::new(DiscordSender::new(&self.token, application_id, None)?);
        Ok(self.sender.get_or_init(|| sender).clone())
    }

    async fn callback(&self, interaction: &Interaction) -> anyhow::Result<Option<serde_json::Value>> {
        Ok(Some(match convert(interaction) {
            // Pings are an HTTP-endpoint check; the gateway never sends them.
            Converted::Ping => return Ok(None),
            Converted::Event(event) => {
                let application_id = match interaction {
                    Interaction::Command(c) => c.application_id.get(),
                    Interaction::Component(c) => c.application_id.get(),
                    _ => return Ok(None),
                };
                let sender = self.sender(application_id)?;
                respond::answer(self.handler.clone(), event, GATEWAY_DEADLINE, sender).await
            }
            Converted::UnknownButton => respond::unknown_button(),
            Converted::Unsupported => respond::unsupported(interaction),
        }))
    }
}

#[async_trait]
impl EventHandler for Gateway {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(bot = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let body = match self.callback(&interaction).await {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot answer a Discord interaction");
                return;
            }
        };
        if let Err(error) =
            ctx.http.create_interaction_response(interaction.id(), interaction.token(), &body, Vec::new()).await
        {
            tracing::warn!(%error, "Discord refused an interaction response");
        }
    }
}

/// Connects to the Discord gateway as the bot and answers interactions until the
/// connection ends for good. No privileged intents are needed: interactions are delivered
/// to every bot regardless of intents.
pub async fn run_gateway(token: SecretString, handler: Arc<dyn ChatHandler>) -> anyhow::Result<()> {
    let gateway = Gateway { token: token.clone(), handler, sender: OnceLock::new() };
    let mut client = serenity::Client::builder(token.expose_secret(), GatewayIntents::empty())
        .event_handler(gateway)
        .await
        .context("setting up the Discord gateway client")?;
    client.start().await.context("the Discord gateway connection failed")
}
