//! Outbound Slack: `chat.postMessage`, `chat.update` and `response_url` follow-ups, with
//! Slack's failures sorted into "try again later" and "will never work".

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::{
    SlackApiChatGetPermalinkRequest, SlackApiChatPostMessageRequest, SlackApiChatUpdateRequest,
    SlackApiConversationsHistoryRequest, SlackApiConversationsOpenRequest, SlackApiFilesComplete,
    SlackApiFilesCompleteUploadExternalRequest, SlackApiFilesGetUploadUrlExternalRequest,
    SlackApiFilesUploadViaUrlRequest, SlackApiToken, SlackApiTokenValue, SlackClient, SlackClientHyperConnector,
    SlackMessageContent, SlackMessageMetadata,
};

use slack_morphism::errors::SlackClientError;

use super::{render, reply};
use crate::chat::{FollowUp, Reply, SendError, Sender};
use crate::domain::chat::message::{Block, Message};
use crate::domain::chat::{ChannelId, MessageRef};
use crate::domain::owner::dm_user;

/// The connector every Slack call goes through: HTTPS for Slack itself, plain HTTP allowed so
/// tests can point the client at a local fake.
pub type Connector = HttpsConnector<HttpConnector>;

/// The message metadata event type that marks a message as an outbox thread's post.
pub const OUTBOX_EVENT: &str = "costbot_outbox";

/// How many of a channel's latest messages are searched for an interrupted post. A post is
/// looked for on the next attempt, seconds to minutes later; not tuned on measurements, but a
/// channel rarely gets a hundred messages in that time.
const HISTORY_WINDOW: u16 = 100;

/// Slack error codes that describe a passing condition on Slack's side.
const RETRYABLE_CODES: &[&str] =
    &["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"];

/// Posts and edits costbot's messages in Slack with a bot token.
pub struct SlackSender {
    client: SlackClient<SlackClientHyperConnector<Connector>>,
    token: SlackApiToken,
    http: Client<Connector, Full<Bytes>>,
    max_retries: u32,
    max_wait: Duration,
}

impl std::fmt::Debug for SlackSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSender").field("max_retries", &self.max_retries).finish_non_exhaustive()
    }
}

/// An HTTPS-or-HTTP connector with the system's root certificates and the ring provider (named
/// explicitly, because rustls cannot pick a process default when two providers are compiled in).
pub fn connector() -> anyhow::Result<Connector> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .context("loading the system's root certificates for Slack")?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build())
}

/// A slack-morphism client, pointed at `api_url` (for example `http://127.0.0.1:PORT/api`)
/// instead of `https://slack.com/api/` when given.
pub fn slack_client(api_url: Option<&str>) -> anyhow::Result<SlackClient<SlackClientHyperConnector<Connector>>> {
    let mut connector = SlackClientHyperConnector::with_connector(connector()?);
    if let Some(url) = api_url {
        // slack-morphism joins the base and the method name with a slash of its own.
        connector = connector.with_slack_api_url(url.trim_end_matches('/'));
    }
    Ok(SlackClient::new(connector))
}

impl SlackSender {
    /// A sender using `bot_token` (`xoxb-…`), talking to `api_url` instead of Slack when given.
    /// By default it retries twice in-process when Slack asks for a wait of at most 3 s.
    pub fn new(bot_token: SecretString, api_url: Option<&str>) -> anyhow::Result<SlackSender> {
        let http = Client::builder(TokioExecutor::new()).build(connector()?);
        Ok(SlackSender {
            client: slack_client(api_url)?,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose_secret().to_string())),
            http,
            max_retries: 2,
            max_wait: Duration::from_secs(3),
        })
    }

    /// Changes the in-process retry policy: at most `max_retries` more attempts, each only if
    /// the wait Slack asks for (or the default backoff) is at most `max_wait`. Longer waits are
    /// returned to the caller as [`SendError::Retryable`] for its outbox.
    pub fn with_retries(self, max_retries: u32, max_wait: Duration) -> SlackSender {
        SlackSender { max_retries, max_wait, ..self }
    }

    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, SendError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SendError>>,
    {
        let mut retries = 0;
        loop {
            match attempt().await {
                Err(SendError::Retryable { reason, after }) if retries < self.max_retries => {
                    let wait = after.unwrap_or(Duration::from_millis(250 << retries));
                    if wait > self.max_wait {
                        return Err(SendError::Retryable { reason, after });
                    }
                    tracing::debug!(%reason, ?wait, retries, "retrying a Slack call");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                done => return done,
            }
        }
    }

    async fn post_once(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        self.post_tagged_once(channel, message, None, None).await
    }

    /// The channel to call Slack with: a direct-message channel (`@U…`, see
    /// `domain::owner::dm_channel`) is opened with `conversations.open` (needs `im:write`),
    /// which answers the same `D…` channel every time; any other channel is used as it is.
    async fn resolve(&self, channel: &ChannelId) -> Result<ChannelId, SendError> {
        let Some(user) = dm_user(channel) else { return Ok(channel.clone()) };
        let request = SlackApiConversationsOpenRequest::new().with_users(vec![user.0.into()]);
        let opened = self
            .retrying(|| async {
                let session = self.client.open_session(&self.token);
                session.conversations_open(&request).await.map_err(classify)
            })
            .await?;
        Ok(ChannelId(opened.channel.id.to_string()))
    }

    /// `chat.postMessage`, with the outbox thread in the message's metadata when given, and in
    /// the thread of message `reply_to` (its `ts`) when given.
    async fn post_tagged_once(
        &self,
        channel: &ChannelId,
        message: &Message,
        thread: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<MessageRef, SendError> {
        let mut content = content(message);
        if let Some(thread) = thread {
            content = content.with_metadata(SlackMessageMetadata {
                event_type: OUTBOX_EVENT.to_string(),
                event_payload: Some([("thread".to_string(), thread.to_string())].into_iter().collect()),
            });
        }
        let mut request = SlackApiChatPostMessageRequest::new(channel.0.clone().into(), content);
        if let Some(ts) = reply_to {
            request = request.with_thread_ts(ts.to_string().into());
        }
        let session = self.client.open_session(&self.token);
        let response = session.chat_post_message(&request).await.map_err(classify)?;
        Ok(MessageRef { channel: ChannelId(response.channel.to_string()), id: response.ts.to_string() })
    }

    /// The first two steps of Slack's upload flow (files upload v2) for each of a message's
    /// files: `files.getUploadURLExternal` (with the alt text) and the bytes to the returned
    /// URL. `None` when Slack refuses the upload (no `files:write` scope, uploads disabled by
    /// an admin, …): the caller posts the alt text instead.
    async fn upload_files(
        &self,
        channel: &ChannelId,
        message: &Message,
    ) -> Result<Option<Vec<SlackApiFilesComplete>>, SendError> {
        let session = self.client.open_session(&self.token);
        let mut files = Vec::new();
        for a in &message.attachments {
            let request =
                SlackApiFilesGetUploadUrlExternalRequest::new(a.name.clone(), a.png.len()).with_alt_txt(a.alt.clone());
            let target = match session.get_upload_url_external(&request).await.map_err(classify) {
                Ok(target) => target,
                Err(SendError::Permanent(reason)) => {
                    tracing::warn!(%reason, channel = %channel, "Slack refused the file upload; posting the message with text instead");
                    return Ok(None);
                }
                Err(retry) => return Err(retry),
            };
            let upload = SlackApiFilesUploadViaUrlRequest::new(target.upload_url, a.png.clone(), "image/png".into());
            session.files_upload_via_url(&upload).await.map_err(classify)?;
            files.push(SlackApiFilesComplete::new(target.file_id).with_title(a.name.clone()));
        }
        Ok(Some(files))
    }

    /// Posts a message with its files through Slack's upload flow (files upload v2):
    /// `files.getUploadURLExternal`, the bytes to the returned URL, then
    /// `files.completeUploadExternal`, which shares the files into the channel with the
    /// message's blocks. When Slack refuses the upload (no `files:write` scope, uploads
    /// disabled by an admin, …) the message is posted without files, their alt text in its
    /// place. The returned id is `file:<id>` of the first file: such a message is not edited.
    async fn post_with_files_once(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        let Some(files) = self.upload_files(channel, message).await? else {
            return self.post_once(channel, &message.with_attachments_as_text()).await;
        };
        let session = self.client.open_session(&self.token);
        let first = files.first().map(|f| f.id.to_string()).unwrap_or_default();
        let complete = SlackApiFilesCompleteUploadExternalRequest::new(files)
            .with_channel_id(channel.0.clone().into())
            .with_blocks(render::blocks(message));
        session.files_complete_upload_external(&complete).await.map_err(classify)?;
        Ok(MessageRef { channel: channel.clone(), id: format!("file:{first}") })
    }

    /// The channel's latest message tagged with `thread` (`conversations.history` with
    /// metadata; needs the `channels:history` scope, or `groups:history` in private channels).
    /// Without the scope Slack refuses, and costbot posts rather than never posting.
    async fn find_posted_once(&self, channel: &ChannelId, thread: &str) -> Result<Option<MessageRef>, SendError> {
        let request = SlackApiConversationsHistoryRequest::new()
            .with_channel(channel.0.clone().into())
            .with_limit(HISTORY_WINDOW)
            .with_include_all_metadata(true);
        let session = self.client.open_session(&self.token);
        let history = match session.conversations_history(&request).await.map_err(classify) {
            Ok(history) => history,
            Err(SendError::Permanent(reason)) => {
                tracing::warn!(%reason, %channel, "cannot read the channel to look for an interrupted post; posting");
                return Ok(None);
            }
            Err(retry) => return Err(retry),
        };
        let ours = |m: &&slack_morphism::prelude::SlackHistoryMessage| {
            m.content.metadata.as_ref().is_some_and(|meta| {
                meta.event_type == OUTBOX_EVENT
                    && meta.event_payload.as_ref().and_then(|p| p.get("thread")).is_some_and(|t| t == thread)
            })
        };
        Ok(history
            .messages
            .iter()
            .find(ours)
            .map(|m| MessageRef { channel: channel.clone(), id: m.origin.ts.to_string() }))
    }

    async fn update_once(&self, at: &MessageRef, message: &Message) -> Result<(), SendError> {
        let request =
            SlackApiChatUpdateRequest::new(at.channel.0.clone().into(), content(message), at.id.clone().into());
        let session = self.client.open_session(&self.token);
        session.chat_update(&request).await.map_err(classify)?;
        Ok(())
    }

    async fn follow_up_once(&self, url: &str, body: &Bytes) -> Result<(), SendError> {
        let uri: axum::http::Uri = url.parse().map_err(|_| SendError::Permanent("response_url is not a URL".into()))?;
        let request = axum::http::Request::post(uri)
            .header(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Full::new(body.clone()))
            .map_err(|e| SendError::Permanent(format!("building the follow-up request: {e}")))?;
        let response =
            self.http.request(request).await.map_err(|e| retryable(format!("response_url unreachable: {e}"), None))?;
        let status = response.status();
        let after = retry_after(response.headers());
        let text = match response.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).chars().take(200).collect(),
            Err(_) => String::new(),
        };
        match status.as_u16() {
            200..=299 => Ok(()),
            429 => Err(retryable(format!("response_url rate limited: {text}"), after)),
            500..=599 => Err(retryable(format!("response_url answered {status}: {text}"), after)),
            // 404 `expired_url`, 400 `invalid_blocks`, `used_url` (more than 5 uses): final.
            _ => Err(SendError::Permanent(format!("response_url answered {status}: {text}"))),
        }
    }
}

impl SlackSender {
    /// Posts with the thread in the message metadata. When an attempt fails in a way that may
    /// have hidden Slack's acceptance (a dropped connection), the next attempt first looks for
    /// the message instead of posting blind.
    async fn post_tagged(&self, channel: &ChannelId, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        let tries = std::sync::atomic::AtomicU32::new(0);
        self.retrying(|| async {
            if tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                if let Some(found) = self.find_posted_once(channel, thread).await? {
                    return Ok(found);
                }
            }
            self.post_tagged_once(channel, message, Some(thread), None).await
        })
        .await
    }

    /// Posts a card with images (an alert and its chart) so that the card stays editable and
    /// is posted once: the files' upload URLs are asked for first (a refusal is known before
    /// anything is posted, and the card then carries the alt text instead), the card is posted
    /// as an ordinary tagged message, and the files are shared into its thread. A failure
    /// after the card is out only loses the picture: it is logged, never posted again.
    async fn post_card_with_files(
        &self,
        channel: &ChannelId,
        thread: &str,
        message: &Message,
    ) -> Result<MessageRef, SendError> {
        let Some(files) = self.upload_files(channel, message).await? else {
            return self.post_tagged(channel, thread, &message.with_attachments_as_text()).await;
        };
        let session = self.client.open_session(&self.token);
        let card = Message { attachments: Vec::new(), ..message.clone() };
        let posted = self.post_tagged(channel, thread, &card).await?;
        let complete = SlackApiFilesCompleteUploadExternalRequest::new(files)
            .with_channel_id(channel.0.clone().into())
            .with_thread_ts(posted.id.clone().into());
        if let Err(error) = session.files_complete_upload_external(&complete).await {
            tracing::warn!(error = %error, channel = %channel, "the card went out but its chart could not be shared");
        }
        Ok(posted)
    }
}

#[async_trait::async_trait]
impl Sender for SlackSender {
    async fn post(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        let channel = &self.resolve(channel).await?;
        if message.attachments.is_empty() {
            self.retrying(|| self.post_once(channel, message)).await
        } else {
            self.retrying(|| self.post_with_files_once(channel, message)).await
        }
    }

    /// A reply in the thread of the posted message (`thread_ts`), tagged with its own outbox
    /// thread. Slack does not list thread replies in `conversations.history`, so an
    /// interrupted reply cannot be looked for; it is posted once per attempt.
    async fn post_reply(&self, parent: &MessageRef, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        let channel = &self.resolve(&parent.channel).await?;
        let message = &message.with_attachments_as_text();
        self.retrying(|| self.post_tagged_once(channel, message, Some(thread), Some(&parent.id))).await
    }

    /// Posts with the thread in the message metadata. When an attempt fails in a way that may
    /// have hidden Slack's acceptance (a dropped connection), the next attempt first looks for
    /// the message instead of posting blind. A card with buttons and files (an alert and its
    /// chart) must stay editable, so it is posted that way and its files go into its thread;
    /// other messages with files (the digest) go through the upload flow, which shares the
    /// files with the blocks but carries no metadata, as before.
    async fn post_thread(&self, channel: &ChannelId, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        let channel = &self.resolve(channel).await?;
        let card = message.blocks.iter().any(|b| matches!(b, Block::Actions { .. }));
        match (message.attachments.is_empty(), card) {
            (true, _) => self.post_tagged(channel, thread, message).await,
            (false, true) => self.post_card_with_files(channel, thread, message).await,
            (false, false) => self.post(channel, message).await,
        }
    }

    async fn find_posted(&self, channel: &ChannelId, thread: &str) -> Result<Option<MessageRef>, SendError> {
        let channel = &self.resolve(channel).await?;
        self.retrying(|| self.find_posted_once(channel, thread)).await
    }

    async fn permalink(&self, at: &MessageRef) -> Option<String> {
        // Messages shared through a file upload have no `ts` to link to.
        if at.id.starts_with("file:") {
            return None;
        }
        let request = SlackApiChatGetPermalinkRequest::new(at.channel.0.clone().into(), at.id.clone().into());
        match self.client.open_session(&self.token).chat_get_permalink(&request).await {
            Ok(found) => Some(found.permalink.to_string()),
            Err(error) => {
                tracing::debug!(error = %error, "no permalink for a Slack message");
                None
            }
        }
    }

    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), SendError> {
        let at = &MessageRef { channel: self.resolve(&at.channel).await?, id: at.id.clone() };
        self.retrying(|| self.update_once(at, message)).await
    }

    async fn follow_up(&self, to: &FollowUp, reply: &Reply) -> Result<(), SendError> {
        let url = match to {
            FollowUp::SlackResponseUrl(url) => url,
            // Nowhere to send it: the answer was already given or the event had no channel back.
            FollowUp::None => return Ok(()),
            FollowUp::DiscordInteraction { .. } => {
                return Err(SendError::Permanent("a Discord follow-up was given to the Slack sender".into()))
            }
        };
        let Some(body) = reply::follow_up_body(reply) else {
            return Ok(());
        };
        let body = Bytes::from(
            serde_json::to_vec(&body).map_err(|e| SendError::Permanent(format!("encoding the reply: {e}")))?,
        );
        self.retrying(|| self.follow_up_once(url, &body)).await
    }
}

fn content(message: &Message) -> SlackMessageContent {
    SlackMessageContent::new().with_text(render::fallback_text(message)).with_blocks(render::blocks(message))
}

fn retryable(reason: String, after: Option<Duration>) -> SendError {
    SendError::Retryable { reason, after }
}

fn retry_after(headers: &axum::http::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(axum::http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// Sorts a slack-morphism error into what the outbox should do with the message.
pub fn classify(error: SlackClientError) -> SendError {
    match error {
        SlackClientError::RateLimitError(e) => {
            retryable(format!("rate limited by Slack{}", code_suffix(e.code.as_deref())), e.retry_after)
        }
        SlackClientError::ApiError(e) if RETRYABLE_CODES.contains(&e.code.as_str()) => {
            retryable(format!("Slack error {}", e.code), None)
        }
        // channel_not_found, not_in_channel, invalid_auth, invalid_blocks, msg_too_long, …
        SlackClientError::ApiError(e) => SendError::Permanent(format!("Slack error {}", e.code)),
        SlackClientError::HttpError(e) if e.status_code.is_server_error() || e.status_code.as_u16() == 408 => {
            retryable(format!("Slack answered HTTP {}", e.status_code), None)
        }
        SlackClientError::HttpError(e) => SendError::Permanent(format!("Slack answered HTTP {}", e.status_code)),
        SlackClientError::HttpProtocolError(e) => retryable(format!("network error talking to Slack: {e}"), None),
        SlackClientError::EndOfStream(_) => retryable("Slack closed the connection".into(), None),
        SlackClientError::SystemError(e) => retryable(format!("could not reach Slack: {e}"), None),
        // Slack answered 200 with a body we cannot read: the message was probably posted, so
        // sending it again could duplicate it.
        SlackClientError::ProtocolError(e) => {
            SendError::Permanent(format!("unreadable answer from Slack: {}", e.json_error))
        }
        SlackClientError::SocketModeProtocolError(e) => retryable(format!("Socket Mode error: {}", e.message), None),
    }
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" ({c})")).unwrap_or_default()
}
