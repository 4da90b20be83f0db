//! Issue 16, tried as an attacker would: hostile input, replays, foreign workspaces,
//! unconfigured channels, one person with several identities, floods and spoofed headers,
//! each against the real router (`App::router`) on a loopback port. `docs/security.md` maps
//! every test here to the threat it covers.

mod access;
pub mod fuzz_harness;
mod hostile;
mod limits;
mod replay;
mod socket;
mod web;

use std::sync::Arc;

use chrono::Utc;
use costbot::app::App;
use costbot::config::Config;
use costbot::store::{DynStore, SqliteStore};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::discord::{fixture, fresh_id, key_pair, FakeDiscord, APP_ID};
use crate::slack::fake::FakeSlack;

/// The Slack signing secret the test configurations name.
pub const SLACK_SECRET: &str = "security-signing-secret";
/// The console's sign-in token.
pub const WEB_TOKEN: &str = "security-web-token-0123456789";
/// The configured Discord channel and user.
pub const DISCORD_CHANNEL: &str = "645027906669510667";
pub const DISCORD_USER: &str = "53908232506183680";

/// A configuration with all three platforms, a channel on each, `slack` added to `[slack]` and
/// `extra` added to `[web]` (it may also open tables of its own, such as `[[people]]`).
pub fn config(slack_api: &str, discord_api: &str, discord_key: &str, slack: &str, extra: &str) -> String {
    std::env::set_var("COSTBOT_SEC_SLACK_TOKEN", "xoxb-test-token");
    std::env::set_var("COSTBOT_SEC_SLACK_SECRET", SLACK_SECRET);
    std::env::set_var("COSTBOT_SEC_DISCORD_TOKEN", "discord-test-token");
    std::env::set_var("COSTBOT_SEC_WEB_TOKEN", WEB_TOKEN);
    format!(
        "[costs]\nsource = \"simulated\"\nbackfill_days = 3\nbreakdown_every_hours = 0\n\
         [slack]\nbot_token = {{ env = \"COSTBOT_SEC_SLACK_TOKEN\" }}\n\
         signing_secrets = [{{ env = \"COSTBOT_SEC_SLACK_SECRET\" }}]\napi_url = \"{slack_api}\"\n{slack}\n\
         [discord]\nbot_token = {{ env = \"COSTBOT_SEC_DISCORD_TOKEN\" }}\napplication_id = \"{APP_ID}\"\n\
         public_key = \"{discord_key}\"\napi_url = \"{discord_api}\"\n\
         [web]\nenabled = true\ntoken = {{ env = \"COSTBOT_SEC_WEB_TOKEN\" }}\ntoken_user = \"ops\"\n{extra}\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"U1\"]\n\
         [[channels]]\nplatform = \"discord\"\nid = \"{DISCORD_CHANNEL}\"\napprovers = [\"{DISCORD_USER}\"]\n\
         [[channels]]\nplatform = \"console\"\nid = \"finops\"\napprovers = [\"ana\"]\n"
    )
}

/// Builds the app on `store` and serves its router on a loopback port; returns the base URL.
pub async fn serve(toml: &str, store: DynStore) -> String {
    crate::support::init();
    let now = Utc::now().naive_utc();
    let app = App::with_store(Config::from_toml(toml).unwrap(), store, now).await.unwrap();
    let router = costbot::server::harden(app.router().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let timeout = costbot::server::HEADER_READ_TIMEOUT;
    tokio::spawn(costbot::server::serve(listener, router, timeout, std::future::pending()));
    base
}

/// A whole `costbot serve` (`App::serve_on`) on loopback ports, with the pages on their own
/// listener (`[web] listen`); `extra` is added to `[web]` as in [`config`].
pub struct Served {
    /// The public listener (operations endpoints and chat webhooks).
    pub public: String,
    /// The pages' listener.
    pub pages: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Kept so the fake chat APIs live as long as the app.
    _fakes: (FakeSlack, FakeDiscord),
}

impl Served {
    /// Serves an app on a fresh in-memory store and waits until the pages answer.
    pub async fn start(extra: &str) -> Served {
        let pages_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let slack = FakeSlack::start().await;
        let (discord, discord_api) = FakeDiscord::start().await;
        let (_, public) = key_pair();
        let extra = format!("listen = \"127.0.0.1:{pages_port}\"\n{extra}");
        let toml = config(&slack.api_url(), &discord_api, &public, "", &extra);
        let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
        crate::support::init();
        let app =
            Arc::new(App::with_store(Config::from_toml(&toml).unwrap(), store, Utc::now().naive_utc()).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.serve_on(listener, async move {
            let _ = stopped.await;
        }));
        let pages = format!("http://127.0.0.1:{pages_port}");
        let http = reqwest::Client::new();
        for _ in 0..50 {
            if http.get(format!("{pages}/login")).send().await.is_ok() {
                return Served { public, pages, stop, server, _fakes: (slack, discord) };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the pages' listener never answered");
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// The targets (reasons) of the `request_refused` entries in `store`'s audit log, in order.
pub async fn refusals(store: &DynStore) -> Vec<String> {
    let entries = store.audit_entries(0, 100).await.unwrap();
    entries.into_iter().filter(|e| e.record.action == "request_refused").map(|e| e.record.target).collect()
}

/// A Discord `/cost` interaction with `query`, in the configured channel.
pub fn discord_command(query: &str) -> Value {
    let mut payload: Value =
        serde_json::from_str(&fixture("interaction.application_command.slash.discord-docs.json")).unwrap();
    payload["application_id"] = json!(APP_ID.to_string());
    payload["id"] = json!(fresh_id());
    payload["channel_id"] = json!(DISCORD_CHANNEL);
    payload["data"]["name"] = json!("cost");
    payload["data"]["options"] = json!([{ "type": 3, "name": "query", "value": query }]);
    payload
}

/// Posts `body` to the Discord endpoint signed with `key`, stamped `ts`.
pub async fn discord_post(base: &str, key: &SigningKey, ts: i64, body: &Value) -> reqwest::Response {
    crate::discord::post_signed_at(&format!("{base}/discord/interactions"), key, ts, body).await
}

/// The peers of one served app: its URL, the fake Slack and Discord APIs, and the Discord key.
pub struct Peers {
    pub base: String,
    pub slack: FakeSlack,
    /// Kept so the fake Discord API lives as long as the app.
    pub _discord: FakeDiscord,
    pub key: SigningKey,
    pub store: DynStore,
}

/// Serves an app with all three platforms on a fresh in-memory store, with `slack` and `extra`
/// added to the configuration as in [`config`].
pub async fn serve_all(slack_extra: &str, extra: &str) -> Peers {
    let slack = FakeSlack::start().await;
    let (discord, discord_api) = FakeDiscord::start().await;
    let (key, public) = key_pair();
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let base = serve(&config(&slack.api_url(), &discord_api, &public, slack_extra, extra), store.clone()).await;
    Peers { base, slack, _discord: discord, key, store }
}

/// Posts a console command as the token user.
pub async fn console_command(base: &str, text: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/console/command"))
        .header("authorization", format!("Bearer {WEB_TOKEN}"))
        .json(&json!({"channel": "finops", "text": text}))
        .send()
        .await
        .unwrap()
}
