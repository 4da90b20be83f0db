//! The web pages: the chat console (`/`) and the dashboard (`/dashboard`), server-rendered
//! HTML with one small vanilla script and no build step, plus the JSON endpoints the console
//! page calls.
//!
//! The console is a chat platform ([`crate::chat::console`]): its commands and clicks go
//! through the same bot, allow-list and audit as Slack and Discord. In `costbot demo` the
//! pages are open on loopback; in `costbot serve` they are off unless `[web]` enables them, and
//! then every route needs a sign-in ([`auth`]). Nothing here fails with a 500 on bad input:
//! a request that cannot be served is a 4xx with a short reason.

pub mod api;
pub mod auth;
mod chart;
mod dashboard;
mod pages;

use std::sync::Arc;

use anyhow::Result;
use axum::extract::{Form, FromRequestParts, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::chat::console::{ClickError, Console};
use crate::chat::ChatHandler;
use crate::config::{ChannelConfig, ChannelPlatform, Config};
use crate::domain::chat::message::ActionRef;
use crate::domain::chat::{ChannelId, UserId};
use crate::domain::console::ConsoleMessage;
use crate::store::DynStore;
use auth::{Access, Asking, Identity, Peer};

/// Changes returned per poll; a page that fell further behind reloads.
const PAGE_LIMIT: u32 = 200;
/// Longest command accepted from the page.
const MAX_COMMAND_LEN: usize = 500;

/// What the web routes share. Cheap to clone.
#[derive(Clone)]
pub struct WebState {
    store: DynStore,
    config: Arc<Config>,
    console: Console,
    access: Arc<Access>,
}

/// The web routes when the configuration serves pages (the demo, or `[web] enabled`).
pub fn router(store: DynStore, config: Arc<Config>, handler: Arc<dyn ChatHandler>) -> Result<Option<Router>> {
    let Some(access) = Access::from_config(&config.web)? else { return Ok(None) };
    let state = WebState { console: Console::new(store.clone(), handler), store, config, access: Arc::new(access) };
    Ok(Some(
        Router::new()
            .route("/", get(console_page))
            .route("/dashboard", get(dashboard_page))
            .route("/login", get(login_form).post(login))
            .route("/logout", post(logout))
            .route("/api/console/messages", get(messages))
            .route("/api/console/command", post(command))
            .route("/api/console/click", post(click))
            .route("/assets/console.js", get(script))
            .route("/assets/costbot.css", get(stylesheet))
            .layer(axum::middleware::from_fn(security_headers))
            .with_state(state),
    ))
}

/// What every page and endpoint sends: scripts, styles and images from costbot itself only
/// (the chart is inline SVG, the digest chart a data URL), never framed (clickjacking on the
/// approval buttons), and no referrer leaking page addresses to links.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

// A refusal here is the HTTP response itself, built once on the error path and returned at
// once; boxing it would add an allocation and nothing else.
#[allow(clippy::result_large_err)]
impl WebState {
    fn console_channels(&self) -> Vec<&ChannelConfig> {
        self.config.channels.iter().filter(|c| c.platform == ChannelPlatform::Console).collect()
    }

    /// The console channel asked for (the first one by default); `None` when there is none.
    fn channel(&self, id: Option<&str>) -> Result<&ChannelConfig, Response> {
        let channels = self.console_channels();
        match id.filter(|i| !i.is_empty()) {
            None => channels.first().copied().ok_or_else(|| not_found("No console channel is configured.")),
            Some(id) => channels.into_iter().find(|c| c.id == id).ok_or_else(|| not_found("No such console channel.")),
        }
    }

    async fn identify(&self, headers: &HeaderMap, peer: Peer, requested: Option<&str>) -> Result<Identity, Response> {
        let asking = Asking { headers, peer, requested };
        let now = chrono::Utc::now().naive_utc();
        self.access.identify(&asking, &*self.store, now).await.map_err(IntoResponse::into_response)
    }

    /// Signs a POST in and resolves the console channel it names.
    async fn admit(
        &self,
        headers: &HeaderMap,
        peer: Peer,
        requested: Option<&str>,
        channel: &str,
    ) -> Result<(Identity, ChannelId), Response> {
        let who = self.identify(headers, peer, requested).await?;
        let channel = self.channel(Some(channel))?;
        Ok((who, ChannelId(channel.id.clone())))
    }
}

/// True when this user may approve, deny, snooze and mute in this channel. The bot checks the
/// same list on every click; the page uses it only to disable buttons.
fn is_approver(channel: &ChannelConfig, user: &UserId) -> bool {
    channel.approvers.iter().any(|a| a == &user.0)
}

fn not_found(text: &'static str) -> Response {
    (StatusCode::NOT_FOUND, text).into_response()
}

fn bad_request(text: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, text.into()).into_response()
}

fn internal(error: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{error:#}"), "a web request failed");
    (StatusCode::SERVICE_UNAVAILABLE, "costbot could not answer just now; please try again.").into_response()
}

/// A JSON body, or why it could not be read (answered with 400, never 500).
type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Query parameters of the pages and the message poll.
#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    /// The console channel.
    channel: Option<String>,
    /// The demo identity.
    #[serde(rename = "as")]
    as_user: Option<String>,
    /// Changes after this number.
    after: Option<i64>,
}

/// A GET signed in, with its query: the extractor every page and the poll share.
struct SignedIn(Identity, PageQuery);

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let peer = Peer::from_request_parts(parts, state).await.unwrap_or(Peer(None));
        let Query(q) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| bad_request(rejection.body_text()))?;
        let who = state.identify(&parts.headers, peer, q.as_user.as_deref()).await?;
        Ok(SignedIn(who, q))
    }
}

async fn console_page(State(state): State<WebState>, SignedIn(who, q): SignedIn) -> Response {
    let channels = state.console_channels();
    let current = state.channel(q.channel.as_deref()).ok();
    let view = pages::ConsoleView {
        channels: &channels,
        current,
        user: &who.user,
        demo_users: state.access.demo_users(),
        approver: current.is_some_and(|c| is_approver(c, &who.user)),
    };
    Html(pages::console(&view)).into_response()
}

async fn dashboard_page(State(state): State<WebState>, SignedIn(who, _): SignedIn) -> Response {
    match dashboard::gather(&*state.store, chrono::Utc::now().naive_utc()).await {
        Ok(data) => match dashboard::page(&data, &who.user, state.access.demo_users()) {
            Ok(page) => Html(page).into_response(),
            Err(error) => internal(error),
        },
        Err(error) => internal(error),
    }
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

/// The sign-in form. The token is typed into a POST form, never put in a URL, where it would
/// stay in browser history, proxy logs and `Referer` headers.
async fn login_form(State(state): State<WebState>, Query(q): Query<LoginQuery>) -> Response {
    match (state.access.secured(), q.token) {
        (None, _) => Redirect::to("/").into_response(),
        // The old `/login?token=…` link: refused, so nobody keeps putting tokens in URLs.
        (Some(_), Some(_)) => (StatusCode::UNAUTHORIZED, Html(pages::login(true))).into_response(),
        (Some(_), None) => Html(pages::login(false)).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

/// Checks the token and starts a stored session: the cookie holds a random id (never the
/// token), expires with the session, and is HttpOnly and SameSite=Strict.
async fn login(
    State(state): State<WebState>,
    peer: Peer,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(secured) = state.access.secured() else { return Redirect::to("/").into_response() };
    if !form.is_ok_and(|Form(f)| secured.token_matches(&f.token)) {
        return (StatusCode::UNAUTHORIZED, Html(pages::login(true))).into_response();
    };
    let (id, session) = secured.new_session(chrono::Utc::now().naive_utc());
    if let Err(error) = state.store.create_session(&session).await {
        return internal(error);
    }
    ([(header::SET_COOKIE, secured.cookie(&id, &headers, peer))], Redirect::to("/")).into_response()
}

/// Ends the session: revoked in the store (so a copied cookie stops working too) and cleared
/// in the browser.
async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(id) = auth::session_cookie(&headers) {
        if let Err(error) = state.store.revoke_session(&auth::session_hash(&id)).await {
            return internal(error);
        }
    }
    ([(header::SET_COOKIE, auth::cleared_cookie())], Redirect::to("/login")).into_response()
}

/// One message as the page shows it.
#[derive(Debug, Serialize)]
struct MessageView {
    id: i64,
    seq: i64,
    html: String,
}

/// A poll's answer: changed messages, and whether this user may use the deciding buttons.
#[derive(Debug, Serialize)]
struct MessagesView {
    channel: String,
    user: String,
    approver: bool,
    messages: Vec<MessageView>,
}

fn views(messages: &[ConsoleMessage]) -> Vec<MessageView> {
    messages.iter().map(|m| MessageView { id: m.id, seq: m.seq, html: pages::message(m) }).collect()
}

async fn messages(State(state): State<WebState>, SignedIn(who, q): SignedIn) -> Response {
    let channel = match state.channel(q.channel.as_deref()) {
        Ok(channel) => channel,
        Err(refusal) => return refusal,
    };
    let id = ChannelId(channel.id.clone());
    match state.store.console_messages(&id, &who.user, q.after.unwrap_or(0).max(0), PAGE_LIMIT).await {
        Ok(list) => Json(MessagesView {
            channel: channel.id.clone(),
            user: who.user.0.clone(),
            approver: is_approver(channel, &who.user),
            messages: views(&list),
        })
        .into_response(),
        Err(error) => internal(error),
    }
}

/// A command typed into the console.
#[derive(Debug, Deserialize)]
struct CommandBody {
    channel: String,
    text: String,
    #[serde(rename = "as", default)]
    as_user: Option<String>,
}

async fn command(
    State(state): State<WebState>,
    peer: Peer,
    headers: HeaderMap,
    body: JsonBody<CommandBody>,
) -> Response {
    command_inner(&state, &headers, peer, body).await.unwrap_or_else(|refusal| refusal)
}

async fn command_inner(
    state: &WebState,
    headers: &HeaderMap,
    peer: Peer,
    body: JsonBody<CommandBody>,
) -> Result<Response, Response> {
    let Json(body) = body.map_err(|rejection| bad_request(rejection.body_text()))?;
    let (who, channel) = state.admit(headers, peer, body.as_user.as_deref(), &body.channel).await?;
    if body.text.len() > MAX_COMMAND_LEN {
        return Err(bad_request(format!("A command is at most {MAX_COMMAND_LEN} characters.")));
    }
    let stored = state.console.command(&who.user, &channel, &body.text).await.map_err(internal)?;
    Ok(Json(views(&stored)).into_response())
}

/// A button clicked in the console.
#[derive(Debug, Deserialize)]
struct ClickBody {
    channel: String,
    message: i64,
    action: String,
    #[serde(rename = "as", default)]
    as_user: Option<String>,
}

async fn click(State(state): State<WebState>, peer: Peer, headers: HeaderMap, body: JsonBody<ClickBody>) -> Response {
    click_inner(&state, &headers, peer, body).await.unwrap_or_else(|refusal| refusal)
}

async fn click_inner(
    state: &WebState,
    headers: &HeaderMap,
    peer: Peer,
    body: JsonBody<ClickBody>,
) -> Result<Response, Response> {
    let Json(body) = body.map_err(|rejection| bad_request(rejection.body_text()))?;
    let (who, channel) = state.admit(headers, peer, body.as_user.as_deref(), &body.channel).await?;
    let action = ActionRef::decode(&body.action).map_err(|_| bad_request("That is not a costbot button."))?;
    match state.console.click(&who.user, &channel, body.message, action).await.map_err(internal)? {
        Ok(changed) => Ok(Json(views(&changed)).into_response()),
        Err(refusal @ (ClickError::NoSuchMessage | ClickError::NoSuchButton)) => {
            Err(bad_request(format!("Not done: {refusal}.")))
        }
    }
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../assets/web/console.js"))
        .into_response()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../assets/web/costbot.css")).into_response()
}
