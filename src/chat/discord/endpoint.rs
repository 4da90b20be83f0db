//! The interactions endpoint: `POST /discord/interactions`.
//!
//! Order matters here. The body is read under a size limit, the signature over
//! `timestamp + body` is checked, and only then is the body parsed: an unsigned request
//! must cost nothing and reach nothing (Discord itself sends bad signatures to check this).
//! Every outcome is a 2xx with a JSON callback, 400, 401 or 413; never a panic or a 500.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serenity::model::application::Interaction;

use super::api::DiscordSender;
use super::convert::{convert, Converted};
use super::respond::{self, DEADLINE};
use super::verify::{check_age, InvalidPublicKey, SignatureVerifier, MAX_AGE_SECS};
use crate::chat::ChatHandler;
use crate::store::AccessStore;

/// Largest interaction body accepted. Real interactions are a few kilobytes; a message
/// component interaction carries its whole message, which stays far below this.
pub const MAX_BODY: usize = 64 * 1024;

/// The path Discord's "Interactions Endpoint URL" must point at.
pub const PATH: &str = "/discord/interactions";

/// What the endpoint needs: the key to verify with, the handler, and a sender for answers
/// that miss the 3-second window.
#[derive(Clone)]
pub struct DiscordState {
    verifier: SignatureVerifier,
    handler: Arc<dyn ChatHandler>,
    sender: Arc<DiscordSender>,
    deadline: Duration,
    replays: Option<Arc<dyn AccessStore>>,
}

impl DiscordState {
    /// State for an application with the given hex public key (Developer Portal, General
    /// Information). Late answers go through `sender`, which knows the application id.
    pub fn new(
        public_key_hex: &str,
        handler: Arc<dyn ChatHandler>,
        sender: Arc<DiscordSender>,
    ) -> Result<DiscordState, InvalidPublicKey> {
        let verifier = SignatureVerifier::from_hex(public_key_hex)?;
        Ok(DiscordState { verifier, handler, sender, deadline: DEADLINE, replays: None })
    }

    /// Remembers interaction ids in `store` for the replay window, so a captured request
    /// replayed to this or any other replica reaches nothing.
    pub fn with_replays(mut self, store: Arc<dyn AccessStore>) -> DiscordState {
        self.replays = Some(store);
        self
    }

    /// Changes how long the handler may take before the answer is deferred.
    pub fn with_deadline(mut self, deadline: Duration) -> DiscordState {
        self.deadline = deadline;
        self
    }
}

/// The Discord routes, to be merged into the application's router.
pub fn router(state: DiscordState) -> Router {
    Router::new().route(PATH, post(interactions)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn interactions(State(state): State<DiscordState>, headers: HeaderMap, body: Bytes) -> Response {
    let (Some(signature), Some(timestamp)) =
        (header(&headers, "x-signature-ed25519"), header(&headers, "x-signature-timestamp"))
    else {
        return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
    };
    if state.verifier.verify(signature, timestamp, &body).is_err() {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let now = chrono::Utc::now();
    if check_age(timestamp, now.timestamp()).is_err() {
        tracing::warn!("refused a signed Discord interaction outside the replay window");
        return (StatusCode::UNAUTHORIZED, "stale request").into_response();
    }
    let interaction: Interaction = match super::convert::parse_interaction(&body) {
        Ok(i) => i,
        Err(error) => {
            tracing::warn!(%error, "a signed Discord interaction did not parse");
            return (StatusCode::BAD_REQUEST, "unrecognised interaction").into_response();
        }
    };
    if let Some(refusal) = replayed(&state, &interaction, now.naive_utc()).await {
        return refusal;
    }
    let answer = match convert(&interaction) {
        Converted::Ping => respond::pong(),
        Converted::Event(event) => {
            respond::answer(state.handler.clone(), event, state.deadline, state.sender.clone()).await
        }
        Converted::UnknownButton => respond::unknown_button(),
        Converted::Unsupported => respond::unsupported(&interaction),
    };
    Json(answer).into_response()
}

/// A refusal when this interaction id was already handled (by any replica), or when that
/// cannot be known (the store is down: fail closed, Discord shows the user an error).
async fn replayed(state: &DiscordState, interaction: &Interaction, now: chrono::NaiveDateTime) -> Option<Response> {
    let store = state.replays.as_ref()?;
    // Remembered for twice the age window: a request may be signed up to that far in the future.
    let until = now + chrono::Duration::seconds(2 * MAX_AGE_SECS);
    match store.first_sighting(&format!("discord:{}", interaction.id()), now, until).await {
        Ok(true) => None,
        Ok(false) => {
            tracing::warn!("refused a replayed Discord interaction");
            Some((StatusCode::UNAUTHORIZED, "interaction already handled").into_response())
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot check a Discord interaction for replay");
            Some(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}
