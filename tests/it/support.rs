//! Test peers: a moto server per test (a real AWS API emulator), a tiny fake AWS endpoint for
//! errors moto cannot produce, and builders for Cost Explorer responses.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The ExternalId the multi-account tests use, set in the environment by [`init`].
pub const EXTERNAL_ID_ENV: &str = "COSTBOT_TEST_EXTERNAL_ID";

/// Process-wide test set-up: the rustls provider (see STACK-NOTES) and static AWS
/// credentials, so the SDK never looks for real ones.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Logs show up in the output of a failing test (and stay hidden otherwise).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("COSTBOT_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/costbot-test-aws-config");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/costbot-test-aws-credentials");
        std::env::set_var(EXTERNAL_ID_ENV, "costbot-test-external-id");
    });
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A moto server on a loopback port, stopped when dropped.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    child: tokio::process::Child,
}

impl Moto {
    /// Starts `moto_server` (or `$COSTBOT_MOTO_SERVER`) and waits until it answers.
    pub async fn start() -> Moto {
        init();
        let program = std::env::var("COSTBOT_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string());
        let port = free_port();
        let child = tokio::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}); install it with: pip install \"moto[server]\""));
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{url}/moto-api/")).send().await {
                if response.status().is_success() {
                    return Moto { url, child };
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {url} within 60 s");
    }

    /// Queues GetCostAndUsage responses for an account through moto's own API. Each new
    /// distinct request body takes the next queued response and keeps it.
    pub async fn seed_cost_and_usage(&self, account: &str, results: Vec<Value>) {
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/static/ce/cost-and-usage-results", self.url))
            .json(&json!({ "results": results, "account_id": account }))
            .send()
            .await
            .expect("seed moto");
        assert_eq!(response.status().as_u16(), 201, "moto refused the seed: {:?}", response.text().await);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One group row of a Cost Explorer result: account, service, amount.
pub type Row<'a> = (&'a str, &'a str, &'a str);

/// A full GetCostAndUsage response (grouped by LINKED_ACCOUNT and SERVICE) for some days.
/// Days at or after `estimated_from` are marked estimated, as Cost Explorer does.
pub fn ce_response(days: &[(&str, Vec<Row<'_>>)], estimated_from: Option<&str>, next_token: Option<&str>) -> Value {
    let results: Vec<Value> = days
        .iter()
        .map(|(day, rows)| {
            let end = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().succ_opt().unwrap().to_string();
            let groups: Vec<Value> = rows
                .iter()
                .map(|(account, service, amount)| {
                    json!({ "Keys": [account, service], "Metrics": { "UnblendedCost": { "Amount": amount, "Unit": "USD" } } })
                })
                .collect();
            json!({
                "TimePeriod": { "Start": day, "End": end },
                "Total": {},
                "Groups": groups,
                "Estimated": estimated_from.is_some_and(|from| *day >= from),
            })
        })
        .collect();
    let mut response = json!({
        "GroupDefinitions": [
            { "Type": "DIMENSION", "Key": "LINKED_ACCOUNT" },
            { "Type": "DIMENSION", "Key": "SERVICE" }
        ],
        "ResultsByTime": results,
        "DimensionValueAttributes": []
    });
    if let Some(token) = next_token {
        response["NextPageToken"] = json!(token);
    }
    response
}

/// The exact sum of some rows' amounts, computed independently of costbot's Money type.
pub fn sum_rows<'a>(rows: impl IntoIterator<Item = &'a Row<'a>>) -> Decimal {
    rows.into_iter().map(|(_, _, amount)| amount.parse::<Decimal>().unwrap()).sum()
}

/// What the fake AWS endpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeBehaviour {
    /// Cost Explorer answers LimitExceededException (its throttling error).
    Throttle,
    /// STS AssumeRole answers ExpiredTokenException.
    ExpiredRole,
    /// Cost Explorer answers one fact.
    Succeed,
}

/// A fake AWS endpoint on a loopback port that counts the requests it gets.
pub struct FakeAws {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Cost Explorer requests received.
    pub ce_requests: Arc<AtomicUsize>,
    behaviour: Arc<std::sync::Mutex<FakeBehaviour>>,
}

impl FakeAws {
    /// Starts the fake.
    pub async fn start(behaviour: FakeBehaviour) -> FakeAws {
        init();
        let ce_requests = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(std::sync::Mutex::new(behaviour));
        let (count, mode) = (ce_requests.clone(), state.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let (count, mode) = (count.clone(), mode.clone());
            async move { fake_answer(&headers, &body, &count, *mode.lock().unwrap()) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeAws { url, ce_requests, behaviour: state }
    }

    /// Changes what the fake does from now on.
    pub fn set(&self, behaviour: FakeBehaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }
}

fn fake_answer(
    headers: &HeaderMap,
    body: &[u8],
    ce_requests: &AtomicUsize,
    mode: FakeBehaviour,
) -> axum::response::Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if target.ends_with("GetCostAndUsage") {
        ce_requests.fetch_add(1, Ordering::SeqCst);
        if mode == FakeBehaviour::Throttle {
            let error = json!({ "__type": "LimitExceededException", "message": "You have exceeded the rate limit" });
            return (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.1")], error.to_string())
                .into_response();
        }
        let today = chrono::Utc::now().date_naive().to_string();
        let ok = ce_response(&[(&today, vec![("123456789012", "AWS Lambda", "1.25")])], Some(&today), None);
        return ([("content-type", "application/x-amz-json-1.1")], ok.to_string()).into_response();
    }
    let form = String::from_utf8_lossy(body);
    if form.contains("Action=AssumeRole") && mode == FakeBehaviour::ExpiredRole {
        let xml = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                   <Code>ExpiredTokenException</Code><Message>The security token included in the request is expired</Message>\
                   </Error><RequestId>fake</RequestId></ErrorResponse>";
        return (StatusCode::BAD_REQUEST, [("content-type", "text/xml")], xml).into_response();
    }
    (StatusCode::NOT_FOUND, "the fake does not speak this").into_response()
}

/// A known daily cost, for tests that check figures against sums they compute themselves.
pub struct Fact {
    pub day: chrono::NaiveDate,
    pub account: &'static str,
    pub service: &'static str,
    pub amount: Decimal,
}

/// The facts as the store's daily `CostFact`s in USD, estimated from `estimated_from` on.
pub fn daily_facts(facts: &[Fact], estimated_from: Option<chrono::NaiveDate>) -> Vec<costbot::domain::CostFact> {
    use costbot::domain::{AccountId, CostFact, Granularity, Money, ServiceName};
    facts
        .iter()
        .map(|f| CostFact {
            granularity: Granularity::Daily,
            period_start: f.day.and_hms_opt(0, 0, 0).unwrap(),
            account: AccountId::parse(f.account).unwrap(),
            service: ServiceName::parse(f.service).unwrap(),
            amount: Money::from_decimal(f.amount),
            unit: "USD".into(),
            estimated: estimated_from.is_some_and(|from| f.day >= from),
        })
        .collect()
}
