//! Socket Mode: Slack pushes commands and clicks over a websocket costbot opens, so no public
//! HTTPS endpoint is needed (handy behind a firewall or on a laptop).
//!
//! Events arrive already verified (the app-level token authenticates the socket) and already
//! parsed by slack-morphism; they go through the same conversion as HTTP and the same handler.
//! A slash command answered within the deadline is answered in the acknowledgement itself
//! (Socket Mode's equivalent of the HTTP response body); a slower one is acknowledged bare and
//! its reply goes through `response_url`. Clicks cannot carry a reply in their
//! acknowledgement, so theirs always go through `response_url`.
//!
//! The workspace (and a click's app) is checked against `[slack] team_ids` / `app_ids` as over
//! HTTP (`origin::Workspaces::socket_refusal`): a refused event is audited by the handler and
//! answered "This workspace is not set up for costbot" (a command) or acknowledged (a click).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::{
    HttpStatusCode, SlackApiToken, SlackApiTokenValue, SlackClient, SlackClientEventsListenerEnvironment,
    SlackClientEventsUserState, SlackClientHyperConnector, SlackClientSocketModeConfig, SlackClientSocketModeListener,
    SlackCommandEvent, SlackCommandEventResponse, SlackInteractionEvent, SlackMessageContent, SlackMessageResponseType,
    SlackSocketModeListenerCallbacks,
};

use super::api::Connector;
use super::origin::{Origin, Workspaces};
use super::parse::{self, Interaction};
use super::reply::{self, Answering};
use super::{answer_within_parts, SlackSender, DEFAULT_DEADLINE};
use crate::chat::{ChatHandler, Reply, Sender};

type Client = SlackClient<SlackClientHyperConnector<Connector>>;
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the callbacks need; slack-morphism passes it through its user-state map because its
/// callbacks are plain function pointers.
struct SocketContext {
    handler: Arc<dyn ChatHandler>,
    sender: Arc<dyn Sender>,
    deadline: Duration,
    workspaces: Workspaces,
}

/// What one callback needs, cloned out of the shared [`SocketContext`].
struct Parts {
    handler: Arc<dyn ChatHandler>,
    sender: Arc<dyn Sender>,
    deadline: Duration,
    workspaces: Workspaces,
}

/// Returned by the command callback when there is nothing to put in the acknowledgement; the
/// error handler turns it into a bare acknowledgement (slack-morphism has no other way to
/// acknowledge a command without a payload).
#[derive(Debug, thiserror::Error)]
#[error("acknowledge without a payload")]
struct AckOnly;

/// Connects to Slack in Socket Mode with the app-level token (`xapp-…`, scope
/// `connections:write`) and serves commands and clicks until the process is asked to stop.
/// `api_url` points the Web API (including `apps.connections.open`) at a fake in tests.
/// Events from workspaces or apps `workspaces` does not admit are refused and audited.
pub async fn run_socket_mode(
    app_token: SecretString,
    bot_token: SecretString,
    handler: Arc<dyn ChatHandler>,
    workspaces: Workspaces,
    api_url: Option<String>,
) -> anyhow::Result<()> {
    let listener = listener(bot_token, handler, workspaces, api_url.as_deref())?;
    let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose_secret().to_string()));
    listener.listen_for(&token).await.context("opening a Slack Socket Mode connection")?;
    listener.serve().await;
    Ok(())
}

fn listener(
    bot_token: SecretString,
    handler: Arc<dyn ChatHandler>,
    workspaces: Workspaces,
    api_url: Option<&str>,
) -> anyhow::Result<SlackClientSocketModeListener<SlackClientHyperConnector<Connector>>> {
    let client = Arc::new(super::api::slack_client(api_url)?);
    let sender: Arc<dyn Sender> = Arc::new(SlackSender::new(bot_token, api_url)?);
    let context = SocketContext { handler, sender, deadline: DEFAULT_DEADLINE, workspaces };
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client).with_error_handler(on_error).with_user_state(context),
    );
    let callbacks =
        SlackSocketModeListenerCallbacks::new().with_command_events(on_command).with_interaction_events(on_interaction);
    // One connection is enough for costbot's traffic; Slack spreads events over all of them.
    let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
    Ok(SlackClientSocketModeListener::new(&config, environment, callbacks))
}

async fn context(states: &SlackClientEventsUserState) -> Result<Parts, BoxError> {
    let guard = states.read().await;
    let context = guard.get_user_state::<SocketContext>().ok_or("Socket Mode context is missing")?;
    Ok(Parts {
        handler: context.handler.clone(),
        sender: context.sender.clone(),
        deadline: context.deadline,
        workspaces: context.workspaces.clone(),
    })
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> Result<SlackCommandEventResponse, BoxError> {
    let Parts { handler, sender, deadline, workspaces } = context(&states).await?;
    let inbound = parse::command_to_inbound(&event);
    let reply = match workspaces.socket_refusal(&Origin::of_socket_command(&event)) {
        Some(reason) => Some(super::refuse(handler.as_ref(), &inbound, &reason).await),
        None => answer_within_parts(handler, sender, deadline, inbound).await,
    };
    match reply.as_ref().and_then(|r| reply::response_body(r, Answering::Command)) {
        Some(body) => {
            let response_type = match body.response_type {
                Some("in_channel") => SlackMessageResponseType::InChannel,
                _ => SlackMessageResponseType::Ephemeral,
            };
            let content = SlackMessageContent::new().with_text(body.text).with_blocks(body.blocks);
            Ok(SlackCommandEventResponse::new(content).with_response_type(response_type))
        }
        None => Err(Box::new(AckOnly)),
    }
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> Result<(), BoxError> {
    let Parts { handler, sender, workspaces, .. } = context(&states).await?;
    match parse::interaction_to_inbound(&event) {
        Interaction::Click(inbound) => {
            if let Some(reason) = workspaces.socket_refusal(&Origin::of_socket_interaction(&event)) {
                // As over HTTP: audited, acknowledged, and nothing sent to the clicker.
                super::refuse(handler.as_ref(), &inbound, &reason).await;
                return Ok(());
            }
            // The acknowledgement goes out as soon as this returns; the reply follows.
            tokio::spawn(async move {
                let follow_up = match &inbound {
                    crate::chat::Inbound::Click { follow_up, .. } | crate::chat::Inbound::Command { follow_up, .. } => {
                        follow_up.clone()
                    }
                };
                let reply = handler.handle(inbound).await;
                deliver(sender, follow_up, reply).await;
            });
        }
        Interaction::UnknownAction { follow_up, action_id } => {
            tracing::info!(action_id = %super::short_id(&action_id), "click on a button costbot does not know");
            tokio::spawn(deliver(sender, follow_up, reply::unknown_button()));
        }
        Interaction::Ignored => {}
    }
    Ok(())
}

async fn deliver(sender: Arc<dyn Sender>, to: crate::chat::FollowUp, reply: Reply) {
    if let Err(error) = sender.follow_up(&to, &reply).await {
        tracing::warn!(%error, "could not deliver a Slack reply through response_url");
    }
}

/// Acknowledges every envelope: Slack would otherwise redeliver it, and an error here would
/// not go away on redelivery.
fn on_error(error: BoxError, _client: Arc<Client>, _states: SlackClientEventsUserState) -> HttpStatusCode {
    if error.downcast_ref::<AckOnly>().is_none() {
        tracing::warn!(%error, "Slack Socket Mode event failed");
    }
    HttpStatusCode::OK
}
