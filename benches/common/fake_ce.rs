//! Cost Explorer and STS for the fake AWS (fake_aws.rs): `GetCostAndUsage` (awsJson1.1, as
//! aws-sdk-costexplorer 1.138 sends it) for payer accounts, each with its own linked accounts
//! and services, and `AssumeRole` (awsQuery) so that each payer is reached through its role,
//! as `[[accounts]] role_arn` configures it, and signs with its own access key id.
//!
//! AWS does not publish how many groups one `GetCostAndUsage` page holds; the fake puts
//! [`PAGE_DAYS`] days in a page, so the request count (and so the price) of a run depends on
//! that choice and is a model, not a measurement of AWS.

use axum::body::Body;
use axum::http::{Response, StatusCode};
use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

/// Days of results in one page: 8 days of 20 accounts × 30 services is 4,800 groups.
pub const PAGE_DAYS: i64 = 8;

/// AWS Cost Explorer pricing: each paginated API request costs $0.01.
pub const PRICE_PER_REQUEST: f64 = 0.01;

/// What every payer's Cost Explorer holds.
#[derive(Debug, Clone, Copy)]
pub struct CeLayout {
    /// Linked accounts per payer.
    pub linked: usize,
    /// Services per linked account.
    pub services: usize,
}

/// The payer accounts' ids.
pub fn payer_id(p: usize) -> String {
    format!("{:012}", 800_000_000_000u64 + p as u64)
}

fn linked_id(p: usize, k: usize) -> String {
    format!("{:012}", 810_000_000_000u64 + (p * 1_000 + k) as u64)
}

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn bad(message: &str) -> Response<Body> {
    json_response(StatusCode::BAD_REQUEST, json!({"__type": "ValidationException", "message": message}))
}

/// One `GetCostAndUsage` page for the payer `account`: the days from the token on (or from
/// the start), at most [`PAGE_DAYS`] of them, every linked account × service on each day.
pub fn get_cost_and_usage(account: &str, body: &[u8], layout: CeLayout) -> Response<Body> {
    let Some(p) = account.parse::<u64>().ok().and_then(|a| a.checked_sub(800_000_000_000)) else {
        return bad("not a payer of the fake");
    };
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let day = |key: &str| NaiveDate::parse_from_str(request["TimePeriod"][key].as_str().unwrap_or(""), "%Y-%m-%d");
    let (Ok(start), Ok(end)) = (day("Start"), day("End")) else { return bad("TimePeriod needs daily dates") };
    let metric = request["Metrics"][0].as_str().unwrap_or("UnblendedCost");
    let offset: i64 = request["NextPageToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
    let first = start + Duration::days(offset);
    let last = (first + Duration::days(PAGE_DAYS)).min(end);
    let mut results = Vec::new();
    let mut d = first;
    while d < last {
        let mut groups = Vec::with_capacity(layout.linked * layout.services);
        for k in 0..layout.linked {
            for s in 0..layout.services {
                // A few dollars to a few hundred, different per series, the same every day.
                let amount = format!("{}.{:02}", 3 + (p as usize * 7 + k * 13 + s * 31) % 300, (k + s) % 100);
                let mut metrics = serde_json::Map::new();
                metrics.insert(metric.to_string(), json!({"Amount": amount, "Unit": "USD"}));
                groups.push(json!({"Keys": [linked_id(p as usize, k), format!("Service {s:02}")], "Metrics": metrics}));
            }
        }
        let next = d + Duration::days(1);
        results.push(json!({
            "TimePeriod": {"Start": d.to_string(), "End": next.to_string()},
            "Total": {},
            "Groups": groups,
            "Estimated": false,
        }));
        d = next;
    }
    let mut answer = json!({"ResultsByTime": results, "DimensionValueAttributes": []});
    if last < end {
        answer["NextPageToken"] = json!((offset + PAGE_DAYS).to_string());
    }
    json_response(StatusCode::OK, answer)
}

/// `AssumeRole`: credentials whose access key id names the role's account, valid for an hour.
pub fn assume_role(form: &[(String, String)]) -> Response<Body> {
    let arn = form.iter().find(|(k, _)| k == "RoleArn").map(|(_, v)| v.as_str()).unwrap_or_default();
    let account = arn.split(':').nth(4).unwrap_or_default();
    let expires = (chrono::Utc::now() + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let body = format!(
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>{}</AccessKeyId>\
         <SecretAccessKey>fake-secret</SecretAccessKey><SessionToken>fake-token</SessionToken>\
         <Expiration>{expires}</Expiration></Credentials><AssumedRoleUser>\
         <Arn>arn:aws:sts::{account}:assumed-role/costbot-read/costbot</Arn>\
         <AssumedRoleId>AROAFAKE:costbot</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
         <ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>",
        crate::fake_aws::access_key(account)
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/xml")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
