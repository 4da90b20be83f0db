//! The read-only REST API over real HTTP, as `costbot serve` mounts it, on Postgres and on
//! SQLite: every route refuses a request without a token (401), outside the token's scope
//! (403) and with a bad parameter (400), always with a JSON error; its spend equals the
//! `/cost` answer to the same question, to the cent, and its lists stay inside the scope.

use std::sync::Arc;

use chrono::Utc;
use costbot::app::App;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::message::{Block, Message, Span};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::Money;
use costbot::store::{DynStore, PgStore, SqliteStore};
use serde_json::Value;
use sha2::Digest;

/// The unscoped token, configured as its SHA-256 only.
const ALL_TOKEN: &str = "api-test-token-every-account-0123";
/// The token scoped to sim-prod, configured as a secret reference.
const PROD_TOKEN: &str = "api-test-token-only-sim-prod-4567";
const PROD_TOKEN_VAR: &str = "COSTBOT_TEST_API_PROD_TOKEN";
const PROD: &str = "222222222222";
/// The token scoped to `team = payments`, as a tag-scoped channel is.
const TEAM_TOKEN: &str = "api-test-token-team-payments-8901";
const STAGING: &str = "333333333333";

fn config(with_tokens: bool) -> String {
    let mut text = format!(
        "[costs]\nsource = \"simulated\"\nbackfill_days = 40\ntag_keys = [\"team\"]\n\
         [server]\nchat_burst_per_person = 1000\n\
         [[channels]]\nplatform = \"slack\"\nid = \"CALL\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"CPROD\"\naccounts = [\"{PROD}\"]\n\
         [[channels]]\nplatform = \"slack\"\nid = \"CPAY\"\ntags = {{ team = [\"payments\"] }}\n\
         [[budgets]]\nname = \"prod\"\nscope = \"account={PROD}\"\namount = 1000\nchannels = [\"CALL\"]\n\
         [[budgets]]\nname = \"payments\"\nscope = \"team=payments\"\namount = 5000\nchannels = [\"CALL\"]\n"
    );
    if with_tokens {
        let hash = hex::encode(sha2::Sha256::digest(ALL_TOKEN.as_bytes()));
        text.push_str(&format!(
            "[[api.tokens]]\nname = \"everything\"\ntoken_sha256 = \"{hash}\"\n\
             [[api.tokens]]\nname = \"prod\"\ntoken = {{ env = \"{PROD_TOKEN_VAR}\" }}\naccounts = [\"{PROD}\"]\n"
        ));
        let team = hex::encode(sha2::Sha256::digest(TEAM_TOKEN.as_bytes()));
        text.push_str(&format!(
            "[[api.tokens]]\nname = \"team\"\ntoken_sha256 = \"{team}\"\ntags = {{ team = [\"payments\"] }}\n"
        ));
    }
    text
}

struct Server {
    base: String,
    app: App,
    http: reqwest::Client,
}

/// An app on the simulated cloud with 40 days of costs, detection run over them and waste
/// proposals raised, serving `App::router` (what `serve` serves) on a loopback port.
async fn server(store: DynStore, with_tokens: bool) -> Server {
    std::env::set_var(PROD_TOKEN_VAR, PROD_TOKEN);
    let now = Utc::now().naive_utc();
    let app = App::with_store(Config::from_toml(&config(with_tokens)).unwrap(), store, now).await.unwrap();
    app.collector.run(now.date(), None, None).await.unwrap();
    if let Some(detection) = &app.detection {
        detection.run(now).await.unwrap();
    }
    app.discover_and_propose(now).await.unwrap();
    let router = app.router().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { base, app, http: reqwest::Client::new() }
}

impl Server {
    /// GET `path` with `token` (if any): the status and the JSON body.
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
        (status, body)
    }

    /// The `/cost` answer in a channel, as the bot replies.
    async fn cost(&self, channel: &str, text: &str) -> Message {
        let actor = Actor {
            platform: Platform::Slack,
            user: UserId("U1".into()),
            roles: vec![],
            channel: ChannelId(channel.into()),
        };
        let event = Inbound::Command { actor, text: text.into(), follow_up: FollowUp::None };
        match self.app.bot.handle_at(event, Utc::now().naive_utc()).await {
            Reply::InChannel(message) => message,
            other => panic!("`/cost {text}` in {channel}: {other:?}"),
        }
    }
}

const ROUTES: [&str; 3] = ["/api/v1/costs", "/api/v1/anomalies", "/api/v1/proposals"];

/// The chat answer's bold total and table rows (label → amount cell).
fn chat_numbers(message: &Message) -> (String, Vec<(String, String)>) {
    let mut total = None;
    let mut rows = Vec::new();
    for block in &message.blocks {
        match block {
            Block::Text { spans } if total.is_none() => {
                total = spans.iter().find_map(|s| match s {
                    Span::Bold(t) => Some(t.clone()),
                    _ => None,
                })
            }
            Block::Table { rows: table, .. } => rows = table.iter().map(|r| (r[0].clone(), r[1].clone())).collect(),
            _ => {}
        }
    }
    (total.expect("a total in the answer"), rows)
}

/// An exact API amount as chat shows it.
fn shown(amount: &Value) -> String {
    Money::parse(amount.as_str().expect("amounts are strings")).unwrap().to_string()
}

async fn refusals(s: &Server) {
    for route in ROUTES {
        let (status, body) = s.get(route, None).await;
        assert_eq!(status, 401, "{route} without a token: {body}");
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{route}: {body}");
        let (status, _) = s.get(route, Some("api-test-token-that-nobody-configured")).await;
        assert_eq!(status, 401, "{route} with a wrong token");
        let (status, body) = s.get(&format!("{route}?account={STAGING}"), Some(PROD_TOKEN)).await;
        assert_eq!(status, 403, "{route} outside the scope: {body}");
        assert!(body["error"].as_str().unwrap().contains("outside this token's scope"), "{body}");
        // A name is resolved too, and an account that does not exist is refused the same way.
        let (status, _) = s.get(&format!("{route}?account=sim-staging%20(simulated)"), Some(PROD_TOKEN)).await;
        assert_eq!(status, 403, "{route} outside the scope, by name");
        let (status, _) = s.get(&format!("{route}?account=999999999999"), Some(PROD_TOKEN)).await;
        assert_eq!(status, 403, "{route}: an unknown account looks like a foreign one");
    }
    for bad in [
        "/api/v1/costs?by=colour",
        "/api/v1/costs?period=forecast",
        "/api/v1/costs?colour=red",
        "/api/v1/costs?top=5",
        "/api/v1/costs?period=2099-01",
        "/api/v1/costs?service=no-such-service-at-all",
        "/api/v1/anomalies?status=maybe",
        "/api/v1/anomalies?limit=0",
        "/api/v1/anomalies?limt=3",
        "/api/v1/proposals?state=nope",
        "/api/v1/proposals?account=999999999999",
    ] {
        let (status, body) = s.get(bad, Some(ALL_TOKEN)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!body["error"].as_str().unwrap().is_empty(), "{bad}: {body}");
    }
}

/// The API's numbers equal the chat answer's, for the whole organisation and inside a scope.
async fn same_as_cost(s: &Server) {
    let questions = [
        ("period=mtd&by=service", "mtd by service"),
        ("period=last%207d&by=account", "last 7d by account"),
        ("by=service&top=2&compare=true", "by service top 2 compare"),
        ("period=last%20month&service=ec2", "last month service=ec2"),
        ("period=yesterday&by=region", "yesterday by region"),
    ];
    for (token, channel) in [(ALL_TOKEN, "CALL"), (PROD_TOKEN, "CPROD")] {
        for (query, text) in questions {
            let (status, api) = s.get(&format!("/api/v1/costs?{query}"), Some(token)).await;
            assert_eq!(status, 200, "{query}: {api}");
            let (total, rows) = chat_numbers(&s.cost(channel, text).await);
            assert_eq!(shown(&api["total"]), total, "{channel} `{text}`: {api}");
            let mut from_api: Vec<(String, String)> = api["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["label"].as_str().unwrap().to_string(), shown(&r["amount"])))
                .collect();
            if let Some(other) = api["other"].as_object() {
                from_api.push((format!("{} more", other["groups"]), shown(&other["amount"])));
            }
            if !rows.is_empty() {
                from_api.push(("Total".into(), total.clone()));
            }
            assert_eq!(from_api, rows, "{channel} `{text}`");
            // The series adds up to the total exactly.
            let series: Money = api["series"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Money::parse(p["amount"].as_str().unwrap()).unwrap())
                .sum();
            assert_eq!(series, Money::parse(api["total"].as_str().unwrap()).unwrap(), "{query}");
        }
    }
    let (_, everything) = s.get("/api/v1/costs?period=last%2030d", Some(ALL_TOKEN)).await;
    let (_, prod) = s.get("/api/v1/costs?period=last%2030d", Some(PROD_TOKEN)).await;
    let (_, prod_asked) = s.get(&format!("/api/v1/costs?period=last%2030d&account={PROD}"), Some(ALL_TOKEN)).await;
    assert_eq!(prod["total"], prod_asked["total"], "a scoped token sees its accounts' spend");
    assert_ne!(prod["total"], everything["total"], "and nothing more");
}

/// Anomalies and proposals: the unscoped token sees all of them, the scoped one only its own.
async fn lists_stay_in_scope(s: &Server) {
    let stored = s.app.store.anomalies(true, 500).await.unwrap();
    let (status, all) = s.get("/api/v1/anomalies", Some(ALL_TOKEN)).await;
    assert_eq!(status, 200, "{all}");
    let all = all["anomalies"].as_array().unwrap().clone();
    assert_eq!(all.len(), stored.len().min(100));
    for (item, anomaly) in all.iter().zip(&stored) {
        assert_eq!(
            (item["id"].as_str().unwrap(), shown(&item["impact"])),
            (anomaly.id.0.as_str(), anomaly.impact.to_string())
        );
    }
    assert!(all.iter().any(|a| a["account"] != PROD), "the simulation has anomalies outside sim-prod: {all:?}");
    let (_, prod) = s.get("/api/v1/anomalies?status=all", Some(PROD_TOKEN)).await;
    let prod = prod["anomalies"].as_array().unwrap().clone();
    assert!(prod.iter().all(|a| a["account"] == PROD), "{prod:?}");
    let (_, asked) = s.get(&format!("/api/v1/anomalies?status=all&account={PROD}"), Some(ALL_TOKEN)).await;
    assert_eq!(asked["anomalies"].as_array().unwrap(), &prod);

    let (status, all) = s.get("/api/v1/proposals?state=all", Some(ALL_TOKEN)).await;
    assert_eq!(status, 200, "{all}");
    let all = all["proposals"].as_array().unwrap().clone();
    assert!(all.iter().any(|p| p["account"] != PROD) && all.iter().any(|p| p["account"] == PROD), "{all:?}");
    let (_, prod) = s.get("/api/v1/proposals?state=all", Some(PROD_TOKEN)).await;
    let prod = prod["proposals"].as_array().unwrap().clone();
    let expected: Vec<&Value> = all.iter().filter(|p| p["account"] == PROD).collect();
    assert_eq!(prod.iter().collect::<Vec<_>>(), expected);
    assert!(prod.iter().all(|p| p["monthly_saving"].is_null() || p["monthly_saving"].is_string()));
}

async fn check(store: DynStore) {
    let s = server(store, true).await;
    refusals(&s).await;
    same_as_cost(&s).await;
    lists_stay_in_scope(&s).await;
    budgets_and_tag_scopes(&s).await;
}

/// `/api/v1/budgets` gives `/cost budget`'s numbers inside each token's scope, and a token
/// scoped to `team = payments` sees what the payments channel sees: its team's spend and
/// budget, never another team's value, an account budget or an organisation figure.
async fn budgets_and_tag_scopes(s: &Server) {
    assert_eq!(s.get("/api/v1/budgets", None).await.0, 401);
    assert_eq!(s.get("/api/v1/budgets?colour=red", Some(ALL_TOKEN)).await.0, 400);
    let names = |body: &Value| -> Vec<String> {
        body["budgets"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_string()).collect()
    };
    let (status, all) = s.get("/api/v1/budgets", Some(ALL_TOKEN)).await;
    assert_eq!((status, names(&all)), (200, vec!["prod".to_string(), "payments".to_string()]), "{all}");
    let chat = costbot::render::text::plain(&s.cost("CALL", "budget prod").await);
    let prod = &all["budgets"][0];
    assert_eq!(prod["amount"], "1000");
    assert!(chat.contains(&format!("{} of $1,000.00", shown(&prod["actual"]))), "{prod} vs\n{chat}");
    assert_eq!(names(&s.get("/api/v1/budgets", Some(PROD_TOKEN)).await.1), vec!["prod".to_string()]);
    assert_eq!(names(&s.get("/api/v1/budgets", Some(TEAM_TOKEN)).await.1), vec!["payments".to_string()]);

    let (status, team) = s.get("/api/v1/costs?period=last%2030d", Some(TEAM_TOKEN)).await;
    assert_eq!(status, 200, "{team}");
    let (_, asked) = s.get("/api/v1/costs?period=last%2030d&team=payments", Some(ALL_TOKEN)).await;
    assert_eq!(team["total"], asked["total"], "a team token sees its team's spend: {team} vs {asked}");
    let (total, _) = chat_numbers(&s.cost("CPAY", "last 30d").await);
    assert_eq!(shown(&team["total"]), total, "and the same as the team's channel");
    let (status, body) = s.get("/api/v1/costs?team=search", Some(TEAM_TOKEN)).await;
    assert_eq!(status, 403, "another team's value: {body}");
    let (_, anomalies) = s.get("/api/v1/anomalies?status=all", Some(TEAM_TOKEN)).await;
    assert!(
        anomalies["anomalies"].as_array().unwrap().iter().all(|a| a["account"].is_null()),
        "a team token sees no account anomaly: {anomalies}"
    );
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn every_route_refuses_and_answers_like_cost_on_postgres(pool: sqlx::PgPool) {
    check(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn every_route_refuses_and_answers_like_cost_on_sqlite() {
    check(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}

#[tokio::test]
async fn without_api_tokens_every_route_is_refused() {
    let s = server(Arc::new(SqliteStore::in_memory().await.unwrap()), false).await;
    for route in ROUTES.iter().chain(&["/api/v1/openapi.json"]) {
        let (status, body) = s.get(route, Some(ALL_TOKEN)).await;
        assert_eq!(status, 403, "{route}: {body}");
        assert!(body["error"].as_str().unwrap().contains("[[api.tokens]]"), "{body}");
    }
}

#[tokio::test]
async fn the_openapi_document_parses_and_lists_every_route() {
    let s = server(Arc::new(SqliteStore::in_memory().await.unwrap()), true).await;
    let (status, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ROUTES
            .iter()
            .chain(&["/api/v1/budgets"])
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    for path in &paths {
        let get = &doc["paths"][path]["get"];
        let codes: Vec<&str> = get["responses"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(codes, ["200", "400", "401", "403"], "{path}");
        assert_eq!(get["security"][0]["token"], serde_json::json!([]), "{path}");
        // Each listed route is served (and needs the token).
        assert_eq!(s.get(path, None).await.0, 401, "{path}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["token"]["scheme"], "bearer");
    let costs = &doc["components"]["schemas"]["CostsResponse"]["properties"];
    assert_eq!(costs["total"]["type"], "string", "money is a decimal string: {costs}");
    let params: Vec<&str> = doc["paths"]["/api/v1/costs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["period", "by", "top", "compare", "service", "account"]);
    assert_eq!(serde_json::to_value(costbot::web::api::openapi()).unwrap(), doc, "served as generated");
}

/// Hostile and random query strings on every route get a JSON 200, 400 or 403, never a 500.
#[tokio::test]
async fn random_query_strings_never_get_a_server_error() {
    use rand::{Rng, SeedableRng};
    let s = server(Arc::new(SqliteStore::in_memory().await.unwrap()), true).await;
    let pieces = [
        "period=",
        "by=",
        "top=",
        "compare=",
        "service=",
        "account=",
        "status=",
        "limit=",
        "state=",
        "tag:team=",
        "mtd",
        "last%20month",
        "2026-02-30",
        "%2B262142-12-31",
        "9999999999999",
        "-1",
        "%FF",
        "%",
        "&",
        "=",
        "==",
        "ec2",
        "service",
        "all",
        "open",
        "pending",
        "%E2%80%9C",
        "..",
        "2026-10-01..2099-01-01",
        PROD,
        "%00",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    for _ in 0..300 {
        let query: String = (0..rng.gen_range(1..8)).map(|_| pieces[rng.gen_range(0..pieces.len())]).collect();
        let route = ROUTES[rng.gen_range(0..ROUTES.len())];
        let token = if rng.gen_bool(0.5) { ALL_TOKEN } else { PROD_TOKEN };
        let (status, body) = s.get(&format!("{route}?{query}"), Some(token)).await;
        assert!([200, 400, 403].contains(&status), "{route}?{query}: {status} {body}");
        assert!(status == 200 || body["error"].is_string(), "{route}?{query}: {body}");
    }
}
