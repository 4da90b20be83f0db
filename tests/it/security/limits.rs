//! Floods: made-up HTTP methods cannot grow `/metrics`, and one person's burst of commands
//! gets "slow down" while the health probe keeps answering.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;

use super::{serve_all, Peers, SLACK_SECRET};
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
    let Peers { base, slack, .. } = serve_all("", "").await;
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
}
