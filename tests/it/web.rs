//! The web console and dashboard over real HTTP, as `costbot serve` runs them with `[web]`
//! enabled: sign-in, a typed command answered from the store, and clicks that go through the
//! channel's allow-list into the audit log.

use std::sync::Arc;

use chrono::{Datelike, Days, Utc};
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::{DateRange, Granularity};
use costbot::store::{DynStore, SpendGroup, SpendQuery, SqliteStore};
use serde_json::{json, Value};

const TOKEN_VAR: &str = "COSTBOT_TEST_WEB_TOKEN";
const TOKEN: &str = "web-test-token-0123456789";

const CONFIG: &str = r##"
[costs]
source = "simulated"
backfill_days = 40

[web]
enabled = true
token = { env = "COSTBOT_TEST_WEB_TOKEN" }
token_user = "ops"
user_header = "X-Forwarded-User"
trusted_proxies = ["127.0.0.1/32"]

[[channels]]
platform = "console"
id = "finops"
name = "#finops"
approvers = ["ana"]
"##;

struct Server {
    base: String,
    store: DynStore,
    http: reqwest::Client,
}

/// An app on the simulated cloud with 40 days of costs and the demo's waste proposals carded
/// into the console channel, serving its routes on a loopback port.
async fn server(config: &str) -> Server {
    std::env::set_var(TOKEN_VAR, TOKEN);
    let now = Utc::now().naive_utc();
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let app = App::with_store(Config::from_toml(config).unwrap(), store.clone(), now).await.unwrap();
    app.collector.run(now.date(), None, None).await.unwrap();
    app.discover_and_propose(now).await.unwrap();
    let router = app.router().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
    });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { base, store, http }
}

impl Server {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base)).json(&body)
    }

    async fn messages(&self, user: &str) -> Vec<Value> {
        let response =
            self.get("/api/console/messages?channel=finops").header("x-forwarded-user", user).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["messages"].as_array().unwrap().clone()
    }

    async fn click(&self, user: &str, message: i64, action: &str) -> (u16, String) {
        let body = json!({"channel": "finops", "message": message, "action": action});
        let response = self.post("/api/console/click", body).header("x-forwarded-user", user).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn audit(&self) -> Vec<(String, String, String)> {
        let entries = self.store.audit_entries(0, 1000).await.unwrap();
        entries.into_iter().map(|e| (e.record.actor, e.record.action, e.record.target)).collect()
    }
}

/// The first card with an Approve button: its message id and the button's action.
fn first_approve(messages: &[Value]) -> (i64, String) {
    messages
        .iter()
        .find_map(|m| {
            let html = m["html"].as_str()?;
            let start = html.find("data-action=\"approve:")? + "data-action=\"".len();
            let end = start + html[start..].find('"')?;
            Some((m["id"].as_i64()?, html[start..end].to_string()))
        })
        .expect("an approval card in the console channel")
}

#[tokio::test]
async fn every_route_needs_a_sign_in_and_accepts_the_token_cookie_or_proxy_header() {
    let s = server(CONFIG).await;
    for path in ["/", "/dashboard", "/api/console/messages?channel=finops", "/login?token=wrong"] {
        assert_eq!(s.get(path).send().await.unwrap().status(), 401, "{path}");
    }
    let command = json!({"channel": "finops", "text": "mtd"});
    assert_eq!(s.post("/api/console/command", command.clone()).send().await.unwrap().status(), 401);
    let forged = s.get("/").header("authorization", "Bearer not-the-token").send().await.unwrap();
    assert_eq!(forged.status(), 401);

    let login = s.http.post(format!("{}/login", s.base)).form(&[("token", TOKEN)]).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains(TOKEN), "the cookie holds a session id, never the token: {cookie}");
    let pair = cookie.split(';').next().unwrap();
    let page = s.get("/").header("cookie", pair).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("#finops") && html.contains("Signed in as <strong>ops</strong>"), "{html}");

    let bearer = s.get("/dashboard").header("authorization", format!("Bearer {TOKEN}")).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    assert!(bearer.text().await.unwrap().contains("Month to date"));
    let proxied = s.get("/").header("x-forwarded-user", "ana").send().await.unwrap().text().await.unwrap();
    assert!(
        proxied.contains("Signed in as <strong>ana</strong>") && proxied.contains("data-approver=\"true\""),
        "{proxied}"
    );

    let broken = s
        .http
        .post(format!("{}/api/console/command", s.base))
        .header("x-forwarded-user", "ana")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400, "bad input is a 4xx, never a 500");
    let unknown = s
        .post("/api/console/command", json!({"channel": "nope", "text": "mtd"}))
        .header("x-forwarded-user", "ana")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_typed_command_is_answered_from_the_store_for_the_whole_channel() {
    let s = server(CONFIG).await;
    let body = json!({"channel": "finops", "text": "/cost mtd by service"});
    let response = s.post("/api/console/command", body).header("x-forwarded-user", "bob").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let stored: Vec<Value> = response.json().await.unwrap();
    assert_eq!(stored.len(), 2, "the typed line and the answer: {stored:?}");
    assert!(stored[0]["html"].as_str().unwrap().contains("/cost mtd by service"));
    let answer = stored[1]["html"].as_str().unwrap();

    let today = Utc::now().date_naive();
    let month = DateRange::new(today.with_day(1).unwrap(), today + Days::new(1)).unwrap();
    let query = SpendQuery { granularity: Granularity::Daily, range: month, accounts: None, services: None };
    let total = s.store.spend(&query, SpendGroup::Total).await.unwrap()[0].amount;
    let top = s.store.spend(&query, SpendGroup::Service).await.unwrap()[0].clone();
    assert!(answer.contains(&total.to_string()), "the month's total {total} is in {answer}");
    // The simulated cloud bills usage only, so gross is the total and there are no credits.
    assert!(answer.contains(&format!("Gross {total} · credits $0.00 · net {total} (Usage {total})")), "{answer}");
    assert!(
        answer.contains(&top.key) && answer.contains(&top.amount.to_string()),
        "the top service row is in {answer}"
    );

    let seen_by_ana = s.messages("ana").await;
    assert!(seen_by_ana.iter().any(|m| m["id"] == stored[1]["id"]), "an in-channel answer is for everyone");
}

#[tokio::test]
async fn clicks_go_through_the_allow_list_and_into_the_audit_log() {
    let s = server(CONFIG).await;
    let (message, action) = first_approve(&s.messages("bob").await);
    let target = action.split(':').nth(1).unwrap().to_string();

    let (status, refused) = s.click("bob", message, &action).await;
    assert_eq!(status, 200);
    assert!(refused.contains("not an approver") && refused.contains("only you can see this"), "{refused}");
    assert!(s.audit().await.contains(&("console:bob".into(), "decision_refused".into(), target.clone())));
    assert!(
        !s.messages("ana").await.iter().any(|m| m["html"].as_str().unwrap().contains("not an approver")),
        "bob's refusal is his alone"
    );

    let (status, changed) = s.click("ana", message, &action).await;
    assert_eq!(status, 200, "{changed}");
    let changed: Vec<Value> = serde_json::from_str(&changed).unwrap();
    assert_eq!(changed[0]["id"].as_i64(), Some(message), "the card itself changed");
    let card = changed[0]["html"].as_str().unwrap();
    assert!(card.contains("Approved; executing shortly.") && !card.contains("data-action=\"approve:"), "{card}");
    assert!(s.audit().await.contains(&("console:ana".into(), "proposal_approved".into(), target.clone())));

    let (status, text) = s.click("ana", message, "approve:pr-not-on-this-card:1").await;
    assert_eq!((status, text.contains("not on that message")), (400, true), "{text}");
    let (status, _) = s.click("ana", message, "launch-missiles").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn serve_without_web_serves_no_pages() {
    let s = server("[costs]\nsource = \"simulated\"\nbackfill_days = 40\n").await;
    assert_eq!(s.get("/").send().await.unwrap().status(), 404);
    assert_eq!(s.get("/healthz").send().await.unwrap().status(), 200);
}
