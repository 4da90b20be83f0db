//! An in-process fake of the AWS query APIs discovery calls (EC2, RDS, CloudWatch, and the two
//! Elastic Load Balancing list calls it makes for instance memberships), for benchmarks at
//! organisation scale: every (account, region) holds the 50 resources of `fake_inventory.rs`.
//!
//! It speaks the wire formats of the SDK crates in Cargo.lock: EC2's ec2Query XML
//! (aws-sdk-ec2 1.274), and awsQuery XML for RDS (1.159), CloudWatch (pinned to 1.99, the last
//! awsQuery release) and both load balancer APIs. Each request is answered after a fixed
//! latency. The account comes from the SigV4 credential scope: each account signs with an
//! access key id `FAKE<account id>` ([`access_key`]), and region and service come from the
//! same `Credential=<key>/<date>/<region>/<service>/aws4_request`.
//!
//! Throttling is a token bucket per account, region and bucket name, as AWS does it: EC2 has
//! one bucket per API action, RDS one for all its actions, CloudWatch one per action (see
//! [`Limits::documented`] for the numbers and where they come from). A request that finds its
//! bucket empty gets the service's throttling error, which the SDK's retry classifier treats
//! as throttling. Every request is counted per account, and so is every retry: the SDK sends
//! `amz-sdk-request: attempt=N; max=M`, and an attempt above 1 is a retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, Response, StatusCode};

use crate::fake_ce::{self, CeLayout};
use crate::fake_inventory::{metric_result, Pair};

/// The access key id an account signs with; the fake reads the account back from it.
pub fn access_key(account: &str) -> String {
    format!("FAKE{account}")
}

/// One token bucket's size: how many tokens it holds at most, and how many it gains a second.
#[derive(Debug, Clone, Copy)]
pub struct BucketSpec {
    pub capacity: f64,
    pub refill_per_sec: f64,
}

/// The buckets of every service, and whether a bucket starts full or empty.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per EC2 action (DescribeInstances, DescribeVolumes, ... each have their own).
    pub ec2: BucketSpec,
    /// One for every RDS action.
    pub rds: BucketSpec,
    /// Per CloudWatch action.
    pub cloudwatch: BucketSpec,
    /// A bucket starts empty, as if the account's other tools had just used it up, rather
    /// than full. Discovery makes one request per action per (account, region), so full
    /// buckets of AWS's sizes never run dry; empty ones make every first request wait.
    pub start_empty: bool,
}

impl Limits {
    /// AWS's published defaults. EC2: "Request throttling for the Amazon EC2 API" (EC2
    /// developer guide), non-mutating actions: a bucket of 100 per action, refilled at 20 a
    /// second. RDS: "Request throttling for the Amazon RDS API" (RDS user guide): 300 in a
    /// burst and 12 a second sustained, per account and region over all actions. CloudWatch:
    /// its service quotas give GetMetricData 50 transactions a second per account and region;
    /// no burst is published, so the bucket holds one second's worth.
    pub fn documented() -> Limits {
        Limits {
            ec2: BucketSpec { capacity: 100.0, refill_per_sec: 20.0 },
            rds: BucketSpec { capacity: 300.0, refill_per_sec: 12.0 },
            cloudwatch: BucketSpec { capacity: 50.0, refill_per_sec: 50.0 },
            start_empty: false,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What one account's requests met.
#[derive(Debug, Clone, Default)]
pub struct AccountStats {
    pub requests: u64,
    pub throttled: u64,
    /// Requests with `attempt=N` above 1.
    pub retries: u64,
    /// The highest attempt number seen.
    pub max_attempt: u32,
    /// When the account's first and last requests arrived, since the fake started.
    pub first: Duration,
    pub last: Duration,
}

struct State {
    latency: Duration,
    limits: Limits,
    started: Instant,
    now: chrono::NaiveDateTime,
    regions: Vec<String>,
    ce: CeLayout,
    buckets: Mutex<HashMap<(String, String, String), Bucket>>,
    stats: Mutex<HashMap<String, AccountStats>>,
    /// Requests by `service:Action`.
    calls: Mutex<HashMap<String, u64>>,
}

/// The running fake.
pub struct FakeAws {
    /// `http://127.0.0.1:PORT`, the endpoint override for every service.
    pub url: String,
    state: Arc<State>,
}

impl FakeAws {
    /// Serves `regions` (their position numbers the resource ids) on a free loopback port.
    /// Cost Explorer answers for payers with `ce`'s linked accounts and services.
    pub async fn start(regions: &[String], latency: Duration, limits: Limits, ce: CeLayout) -> anyhow::Result<FakeAws> {
        let state = Arc::new(State {
            latency,
            limits,
            started: Instant::now(),
            now: chrono::Utc::now().naive_utc(),
            regions: regions.to_vec(),
            ce,
            buckets: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
        });
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let state = shared.clone();
            async move { answer(&state, request).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeAws { url, state })
    }

    /// Every account's counts so far.
    pub fn stats(&self) -> HashMap<String, AccountStats> {
        self.state.stats.lock().expect("stats").clone()
    }

    /// Requests so far by `service:Action`.
    pub fn calls(&self) -> HashMap<String, u64> {
        self.state.calls.lock().expect("calls").clone()
    }

    /// Forgets the counts and refills every bucket (between runs).
    pub fn reset(&self) {
        self.state.stats.lock().expect("stats").clear();
        self.state.calls.lock().expect("calls").clear();
        self.state.buckets.lock().expect("buckets").clear();
    }
}

/// Who sent a request: the fields of its SigV4 credential scope.
struct Caller {
    account: String,
    region: String,
    service: String,
}

fn caller(headers: &HeaderMap) -> Option<Caller> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    let mut parts = scope.split('/');
    let account = parts.next()?.strip_prefix("FAKE")?.to_string();
    let (_date, region, service) = (parts.next()?, parts.next()?, parts.next()?);
    Some(Caller { account, region: region.to_string(), service: service.to_string() })
}

/// The attempt number from `amz-sdk-request: attempt=2; max=5` (1 when absent).
fn attempt(headers: &HeaderMap) -> u32 {
    let value = headers.get("amz-sdk-request").and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.split(';').find_map(|p| p.trim().strip_prefix("attempt=")).and_then(|n| n.parse().ok()).unwrap_or(1)
}

impl State {
    /// Takes one token from the caller's bucket for `name`; false when it is empty.
    fn take(&self, caller: &Caller, name: &str, spec: BucketSpec) -> bool {
        let key = (caller.account.clone(), caller.region.clone(), name.to_string());
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("buckets");
        let start = if self.limits.start_empty { 0.0 } else { spec.capacity };
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: start, at: now });
        let gained = now.duration_since(bucket.at).as_secs_f64() * spec.refill_per_sec;
        bucket.tokens = (bucket.tokens + gained).min(spec.capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn count(&self, caller: &Caller, action: &str, attempt: u32, throttled: bool) {
        let at = self.started.elapsed();
        let mut stats = self.stats.lock().expect("stats");
        let s = stats.entry(caller.account.clone()).or_insert_with(|| AccountStats { first: at, ..Default::default() });
        s.requests += 1;
        s.throttled += u64::from(throttled);
        s.retries += u64::from(attempt > 1);
        s.max_attempt = s.max_attempt.max(attempt);
        s.last = at;
        drop(stats);
        *self.calls.lock().expect("calls").entry(format!("{}:{action}", caller.service)).or_default() += 1;
    }
}

fn xml(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// EC2's error shape (ec2Query): `RequestLimitExceeded` comes with HTTP 503.
fn ec2_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    xml(
        status,
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>\
             <RequestID>fake</RequestID></Response>"
        ),
    )
}

/// The awsQuery error shape (RDS, CloudWatch, Elastic Load Balancing).
fn query_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    xml(
        status,
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>fake</RequestId></ErrorResponse>"
        ),
    )
}

/// An awsQuery success: `<{action}Response><{action}Result>{result}</…></…>`.
fn query_ok(action: &str, result: &str) -> Response<Body> {
    xml(
        StatusCode::OK,
        format!(
            "<{action}Response><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{action}Response>"
        ),
    )
}

async fn answer(state: &State, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    // Query protocols name the action in the form; JSON ones (Cost Explorer) in X-Amz-Target.
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let action = form
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .or_else(|| target.and_then(|t| t.rsplit('.').next()).map(str::to_string))
        .unwrap_or_default();
    tokio::time::sleep(state.latency).await;
    let Some(caller) = caller(&parts.headers) else {
        return query_error(StatusCode::FORBIDDEN, "MissingAuthenticationToken", "unsigned request");
    };
    let attempt = attempt(&parts.headers);
    let limits = state.limits;
    let bucket = match caller.service.as_str() {
        "ec2" => Some((format!("ec2:{action}"), limits.ec2)),
        "rds" => Some(("rds".to_string(), limits.rds)),
        "monitoring" => Some((format!("monitoring:{action}"), limits.cloudwatch)),
        // Elastic Load Balancing is outside the three APIs, and AWS publishes no
        // bucket for Cost Explorer or STS: none of these is throttled here.
        _ => None,
    };
    let throttled = bucket.is_some_and(|(name, spec)| !state.take(&caller, &name, spec));
    state.count(&caller, &action, attempt, throttled);
    if throttled {
        return match caller.service.as_str() {
            "ec2" => ec2_error(StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded", "Request limit exceeded."),
            // RDS's guide names the error ThrottlingException; CloudWatch answers Throttling.
            // Both are in aws-runtime's THROTTLING_ERRORS.
            "rds" => query_error(StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded"),
            _ => query_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded"),
        };
    }
    match (caller.service.as_str(), action.as_str()) {
        ("ce", "GetCostAndUsage") => return fake_ce::get_cost_and_usage(&caller.account, &body, state.ce),
        ("sts", "AssumeRole") => return fake_ce::assume_role(&form),
        _ => {}
    }
    let Some(region) = state.regions.iter().position(|r| *r == caller.region) else {
        return query_error(StatusCode::BAD_REQUEST, "InvalidClientTokenId", "region not served");
    };
    let pair = Pair { account: &caller.account, region, now: state.now };
    let ec2 = |body: String| {
        let root = format!("{action}Response");
        xml(StatusCode::OK, format!("<{root}><requestId>fake</requestId>{body}</{root}>"))
    };
    match (caller.service.as_str(), action.as_str()) {
        ("ec2", "DescribeInstances") => ec2(pair.instances()),
        ("ec2", "DescribeVolumes") => ec2(pair.volumes()),
        ("ec2", "DescribeAddresses") => ec2(pair.addresses()),
        ("rds", "DescribeDBInstances") => query_ok(&action, &pair.databases()),
        ("monitoring", "GetMetricData") => query_ok(&action, &metric_data(&form, state.now)),
        ("elasticloadbalancing", "DescribeTargetGroups") => query_ok(&action, "<TargetGroups/>"),
        ("elasticloadbalancing", "DescribeLoadBalancers") => query_ok(&action, "<LoadBalancerDescriptions/>"),
        ("ec2", _) => ec2_error(StatusCode::BAD_REQUEST, "InvalidAction", &format!("{action} is not faked")),
        _ => query_error(StatusCode::BAD_REQUEST, "InvalidAction", &format!("{action} is not faked")),
    }
}

/// Answers every query of a `GetMetricData` form: `MetricDataQueries.member.N.Id`, with its
/// metric name and first dimension value under `…member.N.MetricStat.Metric.…`.
fn metric_data(form: &[(String, String)], now: chrono::NaiveDateTime) -> String {
    // Query number → its id, metric name and dimension value.
    type Query<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let mut queries: HashMap<&str, Query> = HashMap::new();
    for (key, value) in form {
        let Some(rest) = key.strip_prefix("MetricDataQueries.member.") else { continue };
        let Some((n, field)) = rest.split_once('.') else { continue };
        let entry = queries.entry(n).or_default();
        match field {
            "Id" => entry.0 = Some(value),
            "MetricStat.Metric.MetricName" => entry.1 = Some(value),
            "MetricStat.Metric.Dimensions.member.1.Value" => entry.2 = Some(value),
            _ => {}
        }
    }
    let results: String = queries
        .values()
        .filter_map(|(id, metric, dimension)| Some(metric_result((*id)?, (*metric)?, (*dimension)?, now)))
        .collect();
    format!("<MetricDataResults>{results}</MetricDataResults><Messages/>")
}
