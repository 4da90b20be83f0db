//! Floods: made-up HTTP methods cannot grow `/metrics`.

use std::sync::Arc;

use costbot::store::{DynStore, SqliteStore};

use super::{config, serve};
use crate::discord::{key_pair, FakeDiscord};
use crate::slack::fake::FakeSlack;

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
    let slack = FakeSlack::start().await;
    let (_discord, discord_api) = FakeDiscord::start().await;
    let (_, public) = key_pair();
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let base = serve(&config(&slack.api_url(), &discord_api, &public, ""), store).await;
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
