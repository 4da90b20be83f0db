//! Outbound: posting, editing and late interaction answers through serenity's HTTP client.
//!
//! Requests are built with serenity's [`Route`]s and [`Request`]s and carry the token and
//! proxy of a serenity [`Http`], but are executed here on the same reqwest client: serenity's
//! `Http::request` turns a failure into an `ErrorResponse` that drops the headers and the
//! `retry_after` of a 429, and the outbox needs both to wait the right amount of time.
//! serenity's own rate limiter is off for the same reason: it would sleep inside the outbox
//! worker's lease (and it ignores the proxy), whereas the outbox already schedules retries.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use serenity::http::{Http, HttpBuilder, LightMethod, Multipart, MultipartUpload, Request, Route};
use serenity::model::id::{ApplicationId, ChannelId as DiscordChannelId, MessageId};

use super::render::render;
use super::respond::{ephemeral_data, Kind};
use crate::chat::{FollowUp, Reply, SendError, Sender};
use crate::domain::chat::message::Message;
use crate::domain::chat::{ChannelId, MessageRef};
use crate::domain::owner::dm_user;

/// How long one request may take before it counts as a network failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends messages to Discord as the bot.
#[derive(Debug, Clone)]
pub struct DiscordSender {
    http: Arc<Http>,
    client: reqwest::Client,
    application_id: ApplicationId,
}

impl DiscordSender {
    /// A sender for the bot `token` of application `application_id`. `base_url` replaces
    /// `https://discord.com` (tests point it at a fake Discord API).
    pub fn new(token: &SecretString, application_id: u64, base_url: Option<&str>) -> anyhow::Result<DiscordSender> {
        let application_id =
            non_zero(application_id).map(ApplicationId::new).context("the Discord application id must not be 0")?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client for Discord")?;
        let mut builder = HttpBuilder::new(token.expose_secret())
            .client(client.clone())
            .application_id(application_id)
            .ratelimiter_disabled(true);
        if let Some(url) = base_url {
            builder = builder.proxy(url.trim_end_matches('/'));
        }
        Ok(DiscordSender { http: Arc::new(builder.build()), client, application_id })
    }

    /// The serenity client (for [`super::register_commands`] and the gateway).
    pub fn http(&self) -> &Arc<Http> {
        &self.http
    }

    /// The application this sender acts for.
    pub fn application_id(&self) -> u64 {
        self.application_id.get()
    }

    /// Executes a serenity request and maps Discord's failures to [`SendError`]s.
    async fn execute(&self, request: Request<'_>) -> Result<Value, SendError> {
        let built = request
            .build(&self.client, self.http.token(), self.http.proxy.as_deref())
            .map_err(|e| SendError::Permanent(format!("cannot build the Discord request: {e}")))?;
        let response = built
            .send()
            .await
            .map_err(|e| SendError::Retryable { reason: format!("Discord unreachable: {e}"), after: None })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::Retryable { reason: format!("reading Discord's answer: {e}"), after: None })?;
        if status.is_success() {
            // 204 No Content (a delete) has no body.
            return Ok(serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
        Err(classify(status, &headers, &body))
    }

    async fn send_json(&self, route: Route<'_>, method: LightMethod, body: &Value) -> Result<Value, SendError> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| SendError::Permanent(format!("cannot encode the message: {e}")))?;
        self.execute(Request::new(route, method).body(Some(bytes))).await
    }

    /// Delivers a reply whose interaction was answered "deferred".
    ///
    /// For a command the deferred answer is a loading message, which the reply replaces (or
    /// which is deleted when there is nothing to say). Discord fixes a message's visibility
    /// when it is deferred, so an ephemeral reply that arrives late is shown to the channel.
    /// For a click the reply goes out as for any follow-up.
    pub async fn deliver_late(&self, kind: Kind, to: &FollowUp, reply: &Reply) -> Result<(), SendError> {
        let (application_id, token) = interaction(to)?;
        let route = Route::WebhookOriginalInteractionResponse { application_id, token };
        match (kind, reply) {
            (Kind::Component, _) => self.follow_up(to, reply).await,
            (Kind::Command, Reply::Nothing) => self.execute(Request::new(route, LightMethod::Delete)).await.map(drop),
            // A deferral's visibility is fixed when it is sent, and a slow command's is sent
            // before its answer exists (as public "thinking…"): editing it would show a
            // private answer to the whole channel. So the deferral is deleted and the answer
            // goes out as a private follow-up instead.
            (Kind::Command, Reply::Ephemeral(_)) => {
                self.execute(Request::new(route, LightMethod::Delete)).await?;
                self.follow_up(to, reply).await
            }
            (Kind::Command, Reply::InChannel(m) | Reply::UpdateOriginal(m)) => {
                self.send_json(route, LightMethod::Patch, &render(m)).await.map(drop)
            }
        }
    }
}

/// Discord error codes that mean "this channel takes no files from us": Missing Permissions
/// (ATTACH_FILES) and Request entity too large.
const UPLOAD_REFUSED: [&str; 2] = ["(code 50013)", "(code 40005)"];

impl DiscordSender {
    /// Posts a message with its first attachment as a file (`multipart/form-data` with
    /// `payload_json` and `files[0]`), shown as the image of the last embed. Further
    /// attachments, and the first one where the channel refuses files, become alt text.
    async fn post_with_file(
        &self,
        channel_id: DiscordChannelId,
        message: &Message,
        nonce: Option<String>,
    ) -> Result<Value, SendError> {
        let with_nonce = |mut payload: Value| {
            // Discord answers a repeated post with the same nonce (within a few minutes) with
            // the message it already made, instead of making a second one.
            if let Some(nonce) = &nonce {
                payload["nonce"] = Value::String(nonce.clone());
                payload["enforce_nonce"] = Value::Bool(true);
            }
            payload
        };
        let Some(first) = message.attachments.first() else {
            let payload = with_nonce(render(message));
            return self.send_json(Route::ChannelMessages { channel_id }, LightMethod::Post, &payload).await;
        };
        let rest =
            Message { attachments: message.attachments[1..].to_vec(), ..message.clone() }.with_attachments_as_text();
        let mut payload = with_nonce(render(&rest));
        let reference = format!("attachment://{}", first.name);
        if let Some(last) = payload.get_mut("embeds").and_then(Value::as_array_mut).and_then(|e| e.last_mut()) {
            last["image"] = serde_json::json!({ "url": reference });
        }
        let description: String = first.alt.chars().take(1024).collect();
        payload["attachments"] = serde_json::json!([{ "id": 0, "filename": first.name, "description": description }]);
        let mut file = serenity::builder::CreateAttachment::bytes(first.png.clone(), first.name.clone());
        file.description = Some(description);
        let form = Multipart {
            upload: MultipartUpload::Attachments(vec![file]),
            fields: Vec::new(),
            payload_json: Some(payload.to_string()),
        };
        match self
            .execute(Request::new(Route::ChannelMessages { channel_id }, LightMethod::Post).multipart(Some(form)))
            .await
        {
            Err(SendError::Permanent(reason)) if UPLOAD_REFUSED.iter().any(|code| reason.contains(code)) => {
                tracing::warn!(%reason, channel = %channel_id, "Discord refused the file; posting the message with text instead");
                let text = message.with_attachments_as_text();
                self.send_json(Route::ChannelMessages { channel_id }, LightMethod::Post, &render(&text)).await
            }
            done => done,
        }
    }
}

impl DiscordSender {
    /// The channel to call Discord with: a direct-message channel (`@<user id>`, see
    /// `domain::owner::dm_channel`) is opened with `POST /users/@me/channels`, which answers
    /// the same DM channel every time; any other channel is used as it is.
    async fn resolve(&self, channel: &ChannelId) -> Result<DiscordChannelId, SendError> {
        let Some(user) = dm_user(channel) else { return channel_id(channel) };
        let recipient = parse_id(&user.0, "user")?;
        let body = serde_json::json!({ "recipient_id": recipient.to_string() });
        let opened = self.send_json(Route::UserMeDmChannels, LightMethod::Post, &body).await?;
        let id = opened.get("id").and_then(Value::as_str).unwrap_or_default();
        parse_id(id, "channel").map(DiscordChannelId::new)
    }

    async fn post_nonced(
        &self,
        channel: &ChannelId,
        message: &Message,
        nonce: Option<String>,
    ) -> Result<MessageRef, SendError> {
        let channel_id = self.resolve(channel).await?;
        let answer = self.post_with_file(channel_id, message, nonce).await?;
        let id = answer.get("id").and_then(Value::as_str).ok_or_else(|| SendError::Retryable {
            reason: "Discord accepted the message but sent no id".into(),
            after: None,
        })?;
        Ok(MessageRef { channel: channel.clone(), id: id.to_string() })
    }
}

/// The nonce of an outbox thread's post: the same for every attempt at that thread's first
/// message, and at most 25 characters as Discord requires (`cb` and 16 hex digits of a 64-bit
/// FNV-1a hash of the channel and the thread).
pub fn nonce(channel: &ChannelId, thread: &str) -> String {
    let text = format!("{}|{thread}", channel.0);
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("cb{hash:016x}")
}

#[async_trait]
impl Sender for DiscordSender {
    async fn post(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        self.post_nonced(channel, message, None).await
    }

    async fn post_thread(&self, channel: &ChannelId, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        self.post_nonced(channel, message, Some(nonce(channel, thread))).await
    }

    /// A reply: the message with a reference to the posted parent (Discord shows it as a
    /// reply), and the thread's nonce so a repeated attempt is not posted twice.
    async fn post_reply(&self, parent: &MessageRef, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        let channel_id = self.resolve(&parent.channel).await?;
        let mut payload = render(&message.with_attachments_as_text());
        payload["message_reference"] = serde_json::json!({ "message_id": parent.id, "fail_if_not_exists": false });
        payload["nonce"] = Value::String(nonce(&parent.channel, thread));
        payload["enforce_nonce"] = Value::Bool(true);
        let answer = self.send_json(Route::ChannelMessages { channel_id }, LightMethod::Post, &payload).await?;
        let id = answer.get("id").and_then(Value::as_str).ok_or_else(|| SendError::Retryable {
            reason: "Discord accepted the reply but sent no id".into(),
            after: None,
        })?;
        Ok(MessageRef { channel: parent.channel.clone(), id: id.to_string() })
    }

    async fn permalink(&self, at: &MessageRef) -> Option<String> {
        // A message link needs the guild; the channel object names it.
        let channel_id = channel_id(&at.channel).ok()?;
        let channel = self.execute(Request::new(Route::Channel { channel_id }, LightMethod::Get)).await.ok()?;
        let guild = channel.get("guild_id").and_then(Value::as_str).unwrap_or("@me");
        Some(format!("https://discord.com/channels/{guild}/{}/{}", at.channel, at.id))
    }

    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), SendError> {
        let channel_id = self.resolve(&at.channel).await?;
        let message_id = parse_id(&at.id, "message").map(MessageId::new)?;
        self.send_json(Route::ChannelMessage { channel_id, message_id }, LightMethod::Patch, &render(message))
            .await
            .map(drop)
    }

    async fn follow_up(&self, to: &FollowUp, reply: &Reply) -> Result<(), SendError> {
        let (application_id, token) = interaction(to)?;
        let (route, method, body) = match reply {
            Reply::Nothing => return Ok(()),
            Reply::UpdateOriginal(m) => {
                (Route::WebhookOriginalInteractionResponse { application_id, token }, LightMethod::Patch, render(m))
            }
            Reply::InChannel(m) => {
                (Route::WebhookFollowupMessages { application_id, token }, LightMethod::Post, render(m))
            }
            Reply::Ephemeral(m) => {
                (Route::WebhookFollowupMessages { application_id, token }, LightMethod::Post, ephemeral_data(m))
            }
        };
        self.send_json(route, method, &body).await.map(drop)
    }
}

fn non_zero(id: u64) -> Option<u64> {
    (id != 0).then_some(id)
}

fn parse_id(text: &str, what: &str) -> Result<u64, SendError> {
    text.parse::<u64>()
        .ok()
        .and_then(non_zero)
        .ok_or_else(|| SendError::Permanent(format!("`{text}` is not a Discord {what} id")))
}

fn channel_id(channel: &ChannelId) -> Result<DiscordChannelId, SendError> {
    parse_id(&channel.0, "channel").map(DiscordChannelId::new)
}

fn interaction(to: &FollowUp) -> Result<(ApplicationId, &str), SendError> {
    match to {
        FollowUp::DiscordInteraction { application_id, token } => {
            Ok((parse_id(application_id, "application").map(ApplicationId::new)?, token.as_str()))
        }
        other => Err(SendError::Permanent(format!("not a Discord follow-up: {other:?}"))),
    }
}

/// Maps a failed Discord answer to what the outbox should do.
///
/// 429: wait `retry_after` (body, else the `Retry-After` header), global or per route.
/// 5xx: Discord is having trouble; retry. Anything else (400 invalid form body, 401 bad token,
/// 403 missing access, 404 unknown channel or message) will not get better by retrying.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> SendError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = json.get("message").and_then(Value::as_str).unwrap_or("no message");
    let code = json.get("code").and_then(Value::as_i64).map(|c| format!(" (code {c})")).unwrap_or_default();
    let header_secs =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
    if status == StatusCode::TOO_MANY_REQUESTS {
        let seconds = json.get("retry_after").and_then(Value::as_f64).or_else(|| header_secs("retry-after"));
        let global =
            json.get("global").and_then(Value::as_bool).unwrap_or(false) || headers.contains_key("x-ratelimit-global");
        let after = seconds.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
        let scope = if global { "global rate limit" } else { "rate limited" };
        return SendError::Retryable { reason: format!("Discord {scope}: {message}"), after };
    }
    if status.is_server_error() {
        let after = header_secs("retry-after").filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
        return SendError::Retryable { reason: format!("Discord answered {status}: {message}"), after };
    }
    SendError::Permanent(format!("Discord answered {status}: {message}{code}"))
}
