//! Test peers for the Slack adapter: a counting chat handler, a fake Slack (Web API methods
//! under `/api/…` and `response_url`s under `/respond/…`) that records what it receives and
//! answers from a script, and a signed-request helper.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use costbot::chat::slack::verify;
use costbot::chat::{ChatHandler, Inbound, Reply};
use secrecy::SecretString;
use serde_json::{json, Value};

/// The scopes the fake's `auth.test` says the token was granted: all the manifest asks for.
pub const GRANTED_SCOPES: &str =
    "commands,chat:write,files:write,channels:history,groups:history,users:read,users:read.email,im:write";

/// A handler that counts calls, remembers the events, waits `delay`, then answers `reply`.
pub struct CountingHandler {
    pub calls: AtomicUsize,
    pub events: Mutex<Vec<Inbound>>,
    delay: Duration,
    reply: Reply,
}

impl CountingHandler {
    pub fn new(reply: Reply, delay: Duration) -> Arc<CountingHandler> {
        Arc::new(CountingHandler { calls: AtomicUsize::new(0), events: Mutex::new(Vec::new()), delay, reply })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn last_event(&self) -> Option<Inbound> {
        self.events.lock().unwrap().last().cloned()
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

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// The body as JSON (Web API calls and response_url posts are JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} sent non-JSON {e}: {:?}", self.path, self.body))
    }
}

/// A scripted answer: status, extra headers, JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Answer {
        Answer { status: 200, headers: Vec::new(), body }
    }

    pub fn status(status: u16, body: Value) -> Answer {
        Answer { status, headers: Vec::new(), body }
    }

    pub fn rate_limited(after_secs: u64) -> Answer {
        Answer {
            status: 429,
            headers: vec![("retry-after", after_secs.to_string())],
            body: json!({"ok": false, "error": "ratelimited"}),
        }
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: HashMap<String, VecDeque<Answer>>,
    /// `http://ADDR`, for the upload URLs `files.getUploadURLExternal` hands out.
    base: String,
    /// Accepted `chat.postMessage` bodies, oldest first; `conversations.history` lists them.
    posted: Vec<Value>,
    /// How many of the next accepted posts have their answer cut off by a dropped connection.
    drop_after_accepting: usize,
    /// The workspace's people by email, for `users.lookupByEmail`.
    directory: HashMap<String, String>,
    /// When set, each accepted post answers its own `ts` and the channel it was posted to
    /// (otherwise every post answers `C1` / `1.2`, as the older tests expect).
    numbered: bool,
}

/// A fake Slack on a loopback port.
#[derive(Clone)]
pub struct FakeSlack {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            // files.getUploadURLExternal is a GET; every other method is a POST.
            .route("/api/{method}", post(api).get(api))
            .route("/respond/{id}", post(respond))
            .route("/upload/{id}", post(upload))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        inner.lock().unwrap().base = format!("http://{addr}");
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSlack { addr, inner }
    }

    /// The Web API base URL to give `SlackSender`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// A `response_url` served by this fake.
    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/respond/{id}", self.addr)
    }

    /// Queues answers for a path (`/api/chat.postMessage`, `/respond/x`); once the queue is
    /// empty the path answers its default success.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        self.inner.lock().unwrap().script.insert(path.to_string(), answers.into());
    }

    /// The next `n` posts are accepted (kept, and listed by `conversations.history`) but the
    /// connection drops before Slack's answer arrives.
    pub fn drop_after_accepting(&self, n: usize) {
        self.inner.lock().unwrap().drop_after_accepting = n;
    }

    /// Adds a person `users.lookupByEmail` finds.
    pub fn add_user(&self, email: &str, id: &str) {
        self.inner.lock().unwrap().directory.insert(email.to_string(), id.to_string());
    }

    /// Gives every accepted post its own `ts` (`1700000000.00000N`, N counting posts from 1).
    pub fn number_posts(&self) {
        self.inner.lock().unwrap().numbered = true;
    }

    /// The posts Slack accepted, as sent.
    pub fn posted(&self) -> Vec<Value> {
        self.inner.lock().unwrap().posted.clone()
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.inner.lock().unwrap().received.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits up to `timeout` for at least one request to `path`.
    pub async fn wait_for(&self, path: &str, timeout: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Some(first) = self.received(path).into_iter().next() {
                return Some(first);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

fn record(inner: &Mutex<Inner>, path: String, headers: HeaderMap, body: Bytes, default: Answer) -> Response {
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received { path: path.clone(), headers, body });
        inner.script.get_mut(&path).and_then(|q| q.pop_front()).unwrap_or(default)
    };
    let mut response = (StatusCode::from_u16(answer.status).unwrap(), axum::Json(answer.body)).into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}

async fn api(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A GET call (files.getUploadURLExternal) carries its arguments in the query: keep them
    // as the body, so tests can read them the same way.
    let body = match query {
        Some(query) if body.is_empty() => Bytes::from(query),
        _ => body,
    };
    if method == "chat.postMessage" {
        if let Some(dropped) = accept_post(&inner, &body) {
            return dropped;
        }
    }
    let default = match method.as_str() {
        "conversations.history" => {
            // Like Slack: one channel's messages, without thread replies.
            let channel = request_channel(&body);
            let posted = inner.lock().unwrap().posted.clone();
            let messages: Vec<Value> = posted
                .iter()
                .rev()
                .filter(|p| channel.as_ref().is_none_or(|c| p["channel"] == *c) && p.get("thread_ts").is_none())
                .map(|p| json!({"type": "message", "ts": "1.2", "text": p["text"], "metadata": p["metadata"]}))
                .collect();
            Answer::ok(json!({"ok": true, "messages": messages, "has_more": false}))
        }
        "chat.postMessage" => {
            let inner = inner.lock().unwrap();
            if inner.numbered {
                let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let ts = format!("1700000000.{:06}", inner.posted.len());
                Answer::ok(
                    json!({"ok": true, "channel": sent["channel"], "ts": ts, "message": {"ts": ts, "text": "posted"}}),
                )
            } else {
                Answer::ok(
                    json!({"ok": true, "channel": "C1", "ts": "1.2", "message": {"ts": "1.2", "text": "posted"}}),
                )
            }
        }
        "users.lookupByEmail" => lookup_by_email(&inner, &body),
        "conversations.open" => open_conversation(&body),
        "chat.update" => Answer::ok(
            json!({"ok": true, "channel": "C1", "ts": "1.2", "text": "updated", "message": {"text": "updated"}}),
        ),
        "chat.getPermalink" => Answer::ok(
            json!({"ok": true, "channel": "C1", "permalink": "https://example.slack.com/archives/C1/p1000000000000002"}),
        ),
        "files.getUploadURLExternal" => {
            let base = inner.lock().unwrap().base.clone();
            Answer::ok(json!({"ok": true, "upload_url": format!("{base}/upload/F0CHART"), "file_id": "F0CHART"}))
        }
        "files.completeUploadExternal" => {
            Answer::ok(json!({"ok": true, "files": [{"id": "F0CHART", "title": "chart"}]}))
        }
        // Slack lists the token's scopes in a header of every Web API answer.
        "auth.test" => Answer {
            status: 200,
            headers: vec![("x-oauth-scopes", GRANTED_SCOPES.into())],
            body: json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "costbot", "team_id": "T1", "user_id": "U1", "bot_id": "B1"}),
        },
        _ => Answer::ok(json!({"ok": false, "error": "unknown_method"})),
    };
    record(&inner, format!("/api/{method}"), headers, body, default)
}

/// `users.lookupByEmail` as Slack documents it: a GET with `email` in the query, answered with
/// the user object, or `users_not_found`.
fn lookup_by_email(inner: &Mutex<Inner>, query: &Bytes) -> Answer {
    let email = serde_urlencoded::from_bytes::<HashMap<String, String>>(query)
        .ok()
        .and_then(|q| q.get("email").cloned())
        .unwrap_or_default();
    match inner.lock().unwrap().directory.get(&email) {
        Some(id) => Answer::ok(json!({"ok": true, "user": {
            "id": id, "team_id": "T1", "name": email.split('@').next().unwrap_or(""), "deleted": false,
            "real_name": "Test Person", "tz": "Europe/Berlin", "tz_label": "Central European Time", "tz_offset": 3600,
            "profile": {"email": email, "real_name": "Test Person", "display_name": "tester"},
            "is_admin": false, "is_owner": false, "is_bot": false, "updated": 1700000000
        }})),
        None => Answer::ok(json!({"ok": false, "error": "users_not_found"})),
    }
}

/// `conversations.open` for one user: `users` as a list or Slack's comma-separated string;
/// the direct-message channel is `D` and the user id, the same every time.
fn open_conversation(body: &Bytes) -> Answer {
    let sent: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let user = match &sent["users"] {
        Value::Array(users) => users.first().and_then(Value::as_str).unwrap_or("").to_string(),
        Value::String(users) => users.split(',').next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    if user.is_empty() {
        return Answer::ok(json!({"ok": false, "error": "users_list_not_supplied"}));
    }
    Answer::ok(json!({"ok": true, "no_op": true, "already_open": true, "channel": {"id": format!("D{user}")}}))
}

/// Keeps an accepted post (one the script does not refuse); when a dropped connection is due,
/// answers with a body that breaks off, as a connection lost after Slack accepted the post.
fn accept_post(inner: &Mutex<Inner>, body: &Bytes) -> Option<Response> {
    let mut inner = inner.lock().unwrap();
    if inner.script.get("/api/chat.postMessage").is_some_and(|q| !q.is_empty()) {
        return None;
    }
    inner.posted.push(serde_json::from_slice(body).unwrap_or(Value::Null));
    if inner.drop_after_accepting == 0 {
        return None;
    }
    inner.drop_after_accepting -= 1;
    inner.received.push(Received {
        path: "/api/chat.postMessage".into(),
        headers: HeaderMap::new(),
        body: body.clone(),
    });
    let broken = futures::stream::iter([Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))]);
    Some(Response::builder().status(200).body(axum::body::Body::from_stream(broken)).unwrap())
}

/// The upload URL of the files v2 flow: takes the raw bytes and answers in plain text, as
/// Slack's file servers do.
async fn upload(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let size = body.len();
    inner.lock().unwrap().received.push(Received { path: format!("/upload/{id}"), headers, body });
    (StatusCode::OK, format!("OK - {size}")).into_response()
}

async fn respond(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, format!("/respond/{id}"), headers, body, Answer::ok(json!({"ok": true})))
}

/// Serves `app` on a loopback port and returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Posts `body` to `url` signed with `secret` at `ts`, plus `extra` headers.
pub async fn post_signed(url: &str, secret: &str, ts: i64, body: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let ts = ts.to_string();
    let signature = verify::sign(&SecretString::from(secret), &ts, body.as_bytes());
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", signature)
        .body(body.to_string());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// A slash command form body whose response_url is `response_url`.
pub fn command_body(text: &str, response_url: &str, trigger: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "x"),
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/cost"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", trigger),
    ])
    .unwrap()
}

/// An interaction form body wrapping `payload` as Slack does.
pub fn interaction_body(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

/// A real payload from `tests/data/slack/`.
pub fn data(name: &str) -> String {
    let path = format!("{}/tests/data/slack/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `channel` argument of a Web API call, sent as a form or as JSON.
fn request_channel(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        return json["channel"].as_str().map(str::to_string);
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    form.into_iter().find(|(k, _)| k == "channel").map(|(_, v)| v)
}
