//! The Discord adapter: signature checks, the interactions endpoint over loopback HTTP, the
//! outbound client against a fake Discord API, command registration, and the conversion of
//! real payloads. Helpers shared by the submodules live here.

mod api;
mod endpoint;
mod payloads;
mod signatures;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ed25519_dalek::{Signer, SigningKey};
use secrecy::SecretString;
use serde_json::{json, Value};

use costbot::chat::discord::DiscordSender;
use costbot::chat::{ChatHandler, Inbound, Reply};

/// The application id used throughout (the one in the button fixture).
pub const APP_ID: u64 = 290926444748734465;

/// Reads a fixture from `tests/data/discord/`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/discord/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A new interaction id: Discord gives every interaction its own, and costbot refuses an id
/// it has already handled (a replay), so payloads built from one fixture need fresh ones.
pub fn fresh_id() -> String {
    (rand::random::<u64>() >> 1).to_string()
}

/// A fresh Ed25519 key pair, as the Developer Portal would hold for an application.
pub fn key_pair() -> (SigningKey, String) {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let public = hex::encode(key.verifying_key().to_bytes());
    (key, public)
}

/// Discord's signature over `timestamp + body`, in hex.
pub fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    hex::encode(key.sign(&[timestamp.as_bytes(), body].concat()).to_bytes())
}

/// Posts `body` to `url` signed with `key` and stamped `ts` (Unix seconds), as Discord does.
pub async fn post_signed_at(url: &str, key: &SigningKey, ts: i64, body: &Value) -> reqwest::Response {
    let body = body.to_string();
    let ts = ts.to_string();
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-signature-timestamp", &ts)
        .header("x-signature-ed25519", sign(key, &ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A handler that counts calls, remembers the events and answers after an optional delay.
pub struct CountingHandler {
    pub calls: AtomicUsize,
    pub events: Mutex<Vec<Inbound>>,
    pub reply: Reply,
    pub delay: Duration,
}

impl CountingHandler {
    pub fn new(reply: Reply, delay: Duration) -> Arc<CountingHandler> {
        Arc::new(CountingHandler { calls: AtomicUsize::new(0), events: Mutex::new(Vec::new()), reply, delay })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn events(&self) -> Vec<Inbound> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl ChatHandler for CountingHandler {
    async fn handle(&self, event: Inbound) -> Reply {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.events.lock().unwrap().push(event);
        tokio::time::sleep(self.delay).await;
        self.reply.clone()
    }
}

/// Serves a router on a loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    url
}

/// One request the fake Discord API received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub authorization: Option<String>,
    /// The JSON body, or a multipart request's `payload_json`.
    pub body: Value,
    /// A multipart request's files: (form field name, bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

/// A fake Discord HTTP API speaking Discord's JSON. Channel `404404` is unknown, `429429`
/// is globally rate limited, `500500` is having an outage, `403403` refuses files; everything
/// else succeeds.
#[derive(Clone, Default)]
pub struct FakeDiscord {
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// Messages created, as (channel, nonce): a post repeating a nonce with `enforce_nonce`
    /// creates none, as Discord does within its dedupe window.
    pub created: Arc<Mutex<Vec<Created>>>,
}

/// A created message: its channel and the nonce it was posted with.
pub type Created = (String, Option<String>);

impl FakeDiscord {
    /// Starts the fake and returns it with its base URL.
    pub async fn start() -> (FakeDiscord, String) {
        let fake = FakeDiscord::default();
        let state = fake.clone();
        let router = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { state.answer(method, uri, headers, body) }
        });
        let url = serve(router).await;
        (fake, url)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// A sender pointed at this fake.
    pub fn sender(url: &str) -> DiscordSender {
        DiscordSender::new(&SecretString::from("test-token"), APP_ID, Some(url)).expect("sender")
    }

    /// Waits until a request matching `pred` arrives, or panics after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&Recorded) -> bool) -> Recorded {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(tokio::time::Instant::now() < deadline, "no matching request; got {:?}", self.requests());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn answer(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path().to_string();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (body, files) = match content_type.split_once("boundary=") {
            Some((_, boundary)) => multipart(&body, boundary.trim_matches('"')),
            None => (serde_json::from_slice(&body).unwrap_or(Value::Null), Vec::new()),
        };
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        let has_files = !files.is_empty();
        self.requests.lock().unwrap().push(Recorded {
            method: method.clone(),
            path: path.clone(),
            authorization,
            body: body.clone(),
            files,
        });
        let segments: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            (_, ["channels", "404404", ..]) => {
                (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Unknown Channel", "code": 10003})))
                    .into_response()
            }
            (_, ["channels", "429429", ..]) => (
                StatusCode::TOO_MANY_REQUESTS,
                [("x-ratelimit-global", "true"), ("retry-after", "2")],
                axum::Json(json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": true})),
            )
                .into_response(),
            (_, ["channels", "500500", ..]) => (StatusCode::BAD_GATEWAY, "upstream error").into_response(),
            ("GET", ["channels", channel]) => {
                axum::Json(json!({"id": channel, "type": 0, "guild_id": GUILD_ID})).into_response()
            }
            // Channel 403403 does not let the bot attach files.
            ("POST", ["channels", "403403", "messages"]) if has_files => {
                (StatusCode::FORBIDDEN, axum::Json(json!({"message": "Missing Permissions", "code": 50013})))
                    .into_response()
            }
            ("POST", ["channels", channel, "messages"]) => {
                let nonce = body["nonce"].as_str().map(str::to_string);
                let mut created = self.created.lock().unwrap();
                let repeated = body["enforce_nonce"] == json!(true)
                    && created.iter().any(|(c, n)| c == channel && nonce.is_some() && *n == nonce);
                if !repeated {
                    created.push((channel.to_string(), nonce));
                }
                axum::Json(message(channel, "1200000000000000001", &body)).into_response()
            }
            ("PATCH", ["channels", channel, "messages", id]) => axum::Json(message(channel, id, &body)).into_response(),
            // Create DM: a DM channel object (type 1) with the recipient; the same channel
            // every time for the same person, as Discord answers.
            ("POST", ["users", "@me", "channels"]) => {
                let recipient = body["recipient_id"].as_str().unwrap_or_default().to_string();
                let tail: String = recipient.chars().rev().take(17).collect::<Vec<_>>().into_iter().rev().collect();
                axum::Json(json!({"id": format!("15{tail}"), "type": 1, "last_message_id": null, "flags": 0,
                    "recipients": [{"id": recipient, "username": "owner", "discriminator": "0", "global_name": "Owner", "avatar": null}]}))
                .into_response()
            }
            ("POST", ["webhooks", _, _]) => axum::Json(message("1", "1300000000000000001", &body)).into_response(),
            ("PATCH", ["webhooks", _, _, "messages", "@original"]) => {
                axum::Json(message("1", "1300000000000000002", &body)).into_response()
            }
            ("DELETE", ["webhooks", _, _, "messages", "@original"]) => StatusCode::NO_CONTENT.into_response(),
            ("GET", ["oauth2", "applications", "@me"]) => {
                axum::Json(json!({"id": APP_ID.to_string(), "name": "costbot"})).into_response()
            }
            // The global commands are whatever was last PUT globally (none before that).
            ("GET", ["applications", app, "commands"]) => {
                let global = format!("/api/v10/applications/{app}/commands");
                let requests = self.requests.lock().unwrap();
                let last =
                    requests.iter().rev().find(|r| r.method == Method::PUT && r.path == global).map(|r| r.body.clone());
                axum::Json(last.unwrap_or(json!([]))).into_response()
            }
            ("PUT", ["applications", app, .., "commands"]) => {
                let commands: Vec<Value> = body
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut c)| {
                        c["id"] = json!(format!("14000000000000000{i:02}"));
                        c["application_id"] = json!(app);
                        c["version"] = json!("1");
                        c
                    })
                    .collect();
                axum::Json(commands).into_response()
            }
            _ => (StatusCode::NOT_FOUND, axum::Json(json!({"message": "404: Not Found", "code": 0}))).into_response(),
        }
    }
}

/// The guild the fake's channels belong to.
pub const GUILD_ID: &str = "613425648685547541";

/// Splits a `multipart/form-data` body into its `payload_json` (as JSON) and its file parts.
fn multipart(body: &[u8], boundary: &str) -> (Value, Vec<(String, Vec<u8>)>) {
    let delimiter = format!("--{boundary}");
    let mut payload = Value::Null;
    let mut files = Vec::new();
    for part in split(body, delimiter.as_bytes()).into_iter().skip(1) {
        let Some(end) = part.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&part[..end]).to_string();
        let content = part[end + 4..].strip_suffix(b"\r\n").unwrap_or(&part[end + 4..]).to_vec();
        let Some(name) = head.split("name=\"").nth(1).and_then(|rest| rest.split('"').next()) else { continue };
        if name == "payload_json" {
            payload = serde_json::from_slice(&content).unwrap_or(Value::Null);
        } else {
            files.push((name.to_string(), content));
        }
    }
    (payload, files)
}

fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(delimiter.len()).position(|w| w == delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    parts.push(rest);
    parts
}

/// A message object as Discord returns it after a create or edit (the fields costbot reads).
fn message(channel: &str, id: &str, sent: &Value) -> Value {
    json!({
        "id": id, "channel_id": channel, "type": 0, "content": sent["content"], "embeds": sent["embeds"],
        "components": sent["components"], "tts": false, "pinned": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "timestamp": "2026-11-08T06:00:00.000000+00:00",
        "edited_timestamp": null, "flags": 0,
        "author": {"id": APP_ID.to_string(), "username": "costbot", "discriminator": "0", "avatar": null, "bot": true}
    })
}
