//! Floods: made-up HTTP methods cannot grow `/metrics`, one person's burst of commands gets
//! "slow down" while the health probe keeps answering, and slow-headers clients are
//! disconnected.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{serve_all, Peers, Served, SLACK_SECRET};
use crate::slack::fake::{command_body, post_signed};

/// The distinct values of the `method` label on the HTTP latency series.
fn methods(scrape: &str) -> std::collections::BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| l.starts_with("costbot_http_request_duration_seconds"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_random_method_flood_leaves_the_number_of_series_unchanged() {
    let Peers { base, .. } = serve_all("", "").await;
    let http = reqwest::Client::new();
    let scrape = || async { http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap() };
    scrape().await;
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("FLOOD{i}").as_bytes()).unwrap();
        let answer = http.request(method, format!("{base}/slack/commands")).send().await.unwrap();
        assert!(answer.status().is_client_error(), "{}", answer.status());
    }
    let after = methods(&scrape().await);
    assert!(after.iter().all(|m| !m.starts_with("FLOOD")), "made-up methods are labelled: {after:?}");
    assert!(after.contains("other"), "{after:?}");
    assert!(after.len() <= 10, "the standard methods and `other` at most: {after:?}");
}

#[tokio::test]
async fn a_burst_of_1000_commands_from_one_user_gets_limited_replies_while_healthz_stays_up() {
    let Peers { base, slack, store, .. } = serve_all("", "").await;
    let started = std::time::Instant::now();
    let url = format!("{base}/slack/commands");
    let response_url = slack.response_url("burst");
    let flood = futures::stream::iter(0..1000)
        .map(|i| {
            let (url, body) = (url.clone(), command_body("help", &response_url, &format!("t.burst.{i}")));
            async move {
                let answer = post_signed(&url, SLACK_SECRET, Utc::now().timestamp(), &body, &[]).await;
                answer.text().await.unwrap()
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<String>>();
    let probes = async {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(http.get(format!("{base}/healthz")).send().await.map(|r| r.status().as_u16()).ok());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        statuses
    };
    let (answers, statuses) = tokio::join!(flood, probes);
    let limited = answers.iter().filter(|a| a.contains("Slow down")).count();
    let helped = answers.iter().filter(|a| a.contains("/cost")).count();
    assert!(limited >= 950, "{limited} of 1000 limited");
    assert!(helped >= 10, "the first burst is answered: {helped}");
    assert!(statuses.iter().all(|s| *s == Some(200)), "/healthz answered every probe: {statuses:?}");
    refusals_are_audited_once_per_window(&base, &store, limited, started.elapsed()).await;
}

/// The flood's refusals in the audit log: the first of each 20-second window (the person's
/// bucket refills in 20 s), each with the number left out before it; all of them in `/metrics`.
async fn refusals_are_audited_once_per_window(
    base: &str,
    store: &costbot::store::DynStore,
    limited: usize,
    took: Duration,
) {
    let audit = store.audit_entries(0, 5_000).await.unwrap();
    let details: Vec<serde_json::Value> = audit
        .iter()
        .filter(|e| e.record.action == "request_refused" && e.record.target == "rate_limited")
        .map(|e| serde_json::from_str(&e.record.detail).unwrap())
        .collect();
    let windows = 1 + usize::try_from(took.as_secs() / 20).unwrap();
    assert!((1..=windows).contains(&details.len()), "{} audited refusals in {took:?}", details.len());
    assert!(details.iter().all(|d| d["refusal"] == "rate_limited" && d["bucket"] == "person"), "{details:?}");
    let reported: u64 = details.iter().map(|d| d["suppressed_since_last"].as_u64().unwrap()).sum();
    assert!(reported + details.len() as u64 <= limited as u64, "{reported} suppressed reported");
    assert_eq!(audit.iter().filter(|e| e.record.action == "request_refused").count(), details.len(), "nothing else");
    let scrape = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let counted = |outcome: &str| -> u64 {
        let series = format!("costbot_chat_rate_limited_total{{bucket=\"person\",outcome=\"{outcome}\"}} ");
        scrape.lines().find_map(|l| l.strip_prefix(series.as_str())?.parse().ok()).unwrap_or_else(|| panic!("{scrape}"))
    };
    // Other tests in this process may add to the counters, never take away.
    assert!(counted("suppressed") >= (limited - details.len()) as u64, "every other refusal is counted");
    assert!(counted("audited") >= details.len() as u64);
}

/// Opens a connection to `base`, sends `start` (part of a request head, perhaps nothing) and
/// then nothing more.
async fn stall(base: &str, start: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(start.as_bytes()).await.unwrap();
    stream
}

/// Whether the server closed `stream` without answering. The guard only keeps a broken server
/// from hanging the test; the configured timeout is one second.
async fn closed_without_an_answer(mut stream: tokio::net::TcpStream) -> bool {
    let mut answer = Vec::new();
    match tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer)).await {
        Ok(Ok(_)) => answer.is_empty(),
        Ok(Err(error)) => error.kind() == std::io::ErrorKind::ConnectionReset,
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_slow_headers_client_is_disconnected_while_normal_requests_still_work() {
    let served = Served::start("[server]\nheader_read_timeout_secs = 1").await;
    let http = reqwest::Client::new();
    for base in [&served.public, &served.pages] {
        let half_line = stall(base, "GET /heal").await;
        let half_headers = stall(base, "GET /healthz HTTP/1.1\r\nHost: costbot\r\nX-Slow: ").await;
        let silent = stall(base, "").await;
        let healthz = http.get(format!("{}/healthz", served.public)).send().await.unwrap();
        assert_eq!(healthz.status(), 200, "a normal request is served while slow clients wait");
        assert!(closed_without_an_answer(half_line).await, "{base}: half a request line");
        assert!(closed_without_an_answer(half_headers).await, "{base}: half the headers");
        assert!(closed_without_an_answer(silent).await, "{base}: nothing at all");
    }
    let login = http.get(format!("{}/login", served.pages)).send().await.unwrap();
    assert_eq!(login.status(), 200, "the pages still answer afterwards");
    served.stop().await;
}
