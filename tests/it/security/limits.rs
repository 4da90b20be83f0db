//! Floods: made-up HTTP methods cannot grow `/metrics`.

use super::{serve_all, Peers};

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
