//! The Slack adapter: verified HTTP endpoints for slash commands and button clicks, Block Kit
//! rendering, the Web API sender, and Socket Mode.
//!
//! Only this module knows Slack's JSON. Requests become neutral [`Inbound`] events for the
//! [`ChatHandler`]; its [`Reply`] is rendered back into Block Kit. Slack wants an answer within
//! 3 seconds, so the handler gets [`DEFAULT_DEADLINE`]; a slower answer is acknowledged at once
//! and delivered later through the event's `response_url`.

pub mod api;
mod dedupe;
pub mod origin;
pub mod parse;
pub mod probe;
pub mod render;
pub mod reply;
pub mod socket;
pub mod users;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;

pub use api::SlackSender;
pub use socket::run_socket_mode;

use crate::chat::{ChatHandler, FollowUp, Inbound, Reply, Sender};
use crate::store::AccessStore;
use dedupe::SeenRequests;
use origin::{Origin, Workspaces};
use parse::Interaction;
use reply::Answering;
use verify::{Clock, Verifier};

/// Largest request body accepted; Slack's commands and button payloads are a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long the handler may take before the request is acknowledged without an answer. Slack
/// gives up after 3 s; the margin covers the network and rendering.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(2500);
/// How long a request is remembered to recognise Slack's redelivery of it.
const SEEN_TTL: Duration = Duration::from_secs(10 * 60);

/// Everything the Slack routes need. Cheap to clone.
#[derive(Clone)]
pub struct SlackState {
    verifier: Verifier,
    handler: Arc<dyn ChatHandler>,
    follow_ups: Arc<dyn Sender>,
    deadline: Duration,
    seen: Arc<SeenRequests>,
    workspaces: Workspaces,
    replays: Option<Arc<dyn AccessStore>>,
}

impl SlackState {
    /// State for the routes: the signing secrets (the current one, plus the previous one while
    /// rotating), the handler, and the sender that delivers late replies (a [`SlackSender`]).
    pub fn new(
        signing_secrets: Vec<SecretString>,
        handler: Arc<dyn ChatHandler>,
        follow_ups: Arc<dyn Sender>,
    ) -> SlackState {
        SlackState {
            verifier: Verifier::new(signing_secrets),
            handler,
            follow_ups,
            deadline: DEFAULT_DEADLINE,
            seen: Arc::new(SeenRequests::new(SEEN_TTL)),
            workspaces: Workspaces::default(),
            replays: None,
        }
    }

    /// Refuses (and has the handler audit) verified requests from workspaces, enterprises or
    /// apps other than these.
    pub fn with_workspaces(mut self, workspaces: Workspaces) -> SlackState {
        self.workspaces = workspaces;
        self
    }

    /// Remembers request signatures in `store` for the replay window, so a captured request
    /// replayed to this or any other replica is acknowledged and reaches nothing.
    pub fn with_replays(mut self, store: Arc<dyn AccessStore>) -> SlackState {
        self.replays = Some(store);
        self
    }

    /// Reads "now" from `clock` when checking request timestamps (tests pin it).
    pub fn with_clock(mut self, clock: Clock) -> SlackState {
        self.verifier = self.verifier.with_clock(clock);
        self
    }

    /// Changes how long the handler may take before the answer goes through `response_url`.
    pub fn with_deadline(mut self, deadline: Duration) -> SlackState {
        self.deadline = deadline;
        self
    }
}

/// The Slack routes: `POST /slack/commands` and `POST /slack/interactions`.
pub fn router(state: SlackState) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .with_state(state)
}

/// A request that passed the signature check, with its raw body.
struct Verified {
    body: axum::body::Bytes,
    first_delivery: bool,
}

/// The one verifying step both routes share: bounded read, then timestamp and signature, then
/// redelivery detection. Anything that fails here has touched nothing else.
async fn verified(state: &SlackState, headers: &HeaderMap, body: Body) -> Result<Verified, Response> {
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()),
    };
    if let Err(error) = state.verifier.verify(headers, &body) {
        tracing::warn!(%error, "refused an unverified Slack request");
        return Err(StatusCode::UNAUTHORIZED.into_response());
    }
    // A redelivery carries the same body (its trigger_id is unique per invocation), so the
    // body's digest recognises it whatever Slack put in X-Slack-Retry-Num; a replay carries
    // the same signature, which the store remembers for every replica.
    let first_delivery = state.seen.first_time(&body) && first_signature(state, headers).await?;
    if !first_delivery {
        let retry = headers.get("x-slack-retry-num").and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info!(retry, "ignoring a redelivered Slack request already being handled");
    }
    Ok(Verified { body, first_delivery })
}

/// Whether this request's signature is new to every replica; an error response when the
/// store cannot say (fail closed: Slack retries a 503).
async fn first_signature(state: &SlackState, headers: &HeaderMap) -> Result<bool, Response> {
    let Some(store) = &state.replays else { return Ok(true) };
    let signature = headers.get(verify::SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let now = chrono::Utc::now().naive_utc();
    // Slack's window is ±5 minutes around now, so a signature stays valid for ten.
    let until = now + chrono::Duration::seconds(2 * verify::MAX_SKEW_SECS);
    match store.first_sighting(&format!("slack:{signature}"), now, until).await {
        Ok(first) => Ok(first),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot check a Slack request for replay");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

async fn commands(State(state): State<SlackState>, headers: HeaderMap, body: Body) -> Response {
    let request = match verified(&state, &headers, body).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let event = match parse::command_from_form(&request.body) {
        Ok(event) => event,
        Err(error) => return bad_request(error),
    };
    if !request.first_delivery {
        return StatusCode::OK.into_response();
    }
    let inbound = parse::command_to_inbound(&event);
    if let Some(refusal) = refused(&state, &inbound, &Origin::of_command(&request.body)).await {
        return respond(Some(refusal), Answering::Command);
    }
    let reply = answer_within(&state, inbound).await;
    respond(reply, Answering::Command)
}

async fn interactions(State(state): State<SlackState>, headers: HeaderMap, body: Body) -> Response {
    let request = match verified(&state, &headers, body).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let event = match parse::interaction_from_form(&request.body) {
        Ok(event) => event,
        Err(error) => return bad_request(error),
    };
    if !request.first_delivery {
        return StatusCode::OK.into_response();
    }
    // Slack ignores message bodies in the acknowledgement of a block action: replies to
    // clicks (card updates, ephemeral notes) always go through the click's response_url.
    match parse::interaction_to_inbound(&event) {
        Interaction::Click(inbound) => {
            if refused(&state, &inbound, &Origin::of_interaction(&request.body)).await.is_some() {
                return StatusCode::OK.into_response();
            }
            let follow_up = match &inbound {
                Inbound::Command { follow_up, .. } | Inbound::Click { follow_up, .. } => follow_up.clone(),
            };
            let (handler, sender) = (state.handler.clone(), state.follow_ups.clone());
            let task = tokio::spawn(async move { handler.handle(inbound).await });
            tokio::spawn(deliver_late(task, follow_up, sender));
        }
        Interaction::UnknownAction { action_id, follow_up } => {
            tracing::info!(action_id = %short_id(&action_id), "click on a button costbot does not know");
            let sender = state.follow_ups.clone();
            tokio::spawn(async move {
                if let Err(error) = sender.follow_up(&follow_up, &reply::unknown_button()).await {
                    tracing::warn!(%error, "could not explain an unknown button");
                }
            });
        }
        Interaction::Ignored => {}
    }
    StatusCode::OK.into_response()
}

/// The refusal for a request from a workspace, enterprise or app costbot is not configured
/// for, after the handler has audited it; `None` when the request is admitted.
async fn refused(state: &SlackState, inbound: &Inbound, origin: &Origin) -> Option<Reply> {
    let reason = state.workspaces.refusal(origin)?;
    Some(refuse(state.handler.as_ref(), inbound, &reason).await)
}

/// Has the handler audit a refused request (HTTP or Socket Mode) and returns the reply that
/// says so.
async fn refuse(handler: &dyn ChatHandler, inbound: &Inbound, reason: &str) -> Reply {
    let actor = match inbound {
        Inbound::Command { actor, .. } | Inbound::Click { actor, .. } => actor,
    };
    tracing::warn!(%reason, "refused a Slack request from a workspace costbot is not set up for");
    handler.refused(actor, reason).await;
    reply::foreign_workspace()
}

/// Runs the handler; returns its reply if it comes within the deadline. Otherwise the reply is
/// delivered through the event's follow-up channel when it comes, and `None` is returned so the
/// request is acknowledged now.
pub async fn answer_within(state: &SlackState, event: Inbound) -> Option<Reply> {
    answer_within_parts(state.handler.clone(), state.follow_ups.clone(), state.deadline, event).await
}

/// [`answer_within`] for callers without a [`SlackState`] (Socket Mode).
pub async fn answer_within_parts(
    handler: Arc<dyn ChatHandler>,
    follow_ups: Arc<dyn Sender>,
    deadline: Duration,
    event: Inbound,
) -> Option<Reply> {
    let follow_up = match &event {
        Inbound::Command { follow_up, .. } | Inbound::Click { follow_up, .. } => follow_up.clone(),
    };
    // The handler runs in its own task so a slow one keeps going after the request returns,
    // and so a panic in it becomes an error reply instead of a dropped connection.
    let mut task = tokio::spawn(async move { handler.handle(event).await });
    match tokio::time::timeout(deadline, &mut task).await {
        Ok(Ok(reply)) => Some(reply),
        Ok(Err(panic)) => {
            tracing::error!(error = %panic, "the chat handler failed");
            Some(reply::internal_error())
        }
        Err(_late) => {
            tokio::spawn(deliver_late(task, follow_up, follow_ups));
            None
        }
    }
}

async fn deliver_late(task: tokio::task::JoinHandle<Reply>, to: FollowUp, sender: Arc<dyn Sender>) {
    let reply = match task.await {
        Ok(reply) => reply,
        Err(panic) => {
            tracing::error!(error = %panic, "the chat handler failed after the deadline");
            reply::internal_error()
        }
    };
    if let Err(error) = sender.follow_up(&to, &reply).await {
        tracing::warn!(%error, "could not deliver a late Slack reply");
    }
}

fn respond(reply: Option<Reply>, answering: Answering) -> Response {
    match reply.as_ref().and_then(|r| reply::response_body(r, answering)) {
        Some(body) => Json(body).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

fn bad_request(error: parse::ParseError) -> Response {
    tracing::warn!(%error, "a verified Slack request could not be read");
    (StatusCode::BAD_REQUEST, error.to_string()).into_response()
}

fn short_id(id: &str) -> String {
    render::truncate(id, 100)
}
