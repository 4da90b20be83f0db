//! Operations endpoints and process behaviour of one `costbot serve` on an embedded store:
//! `/metrics` moves with collections, commands and approvals and is valid Prometheus text;
//! `/readyz` reports migrations; SIGTERM exits 0 and releases leadership; `--json-logs` prints
//! one JSON object per line.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use costbot::leadership::LEADER_LEASE;
use costbot::store::{DynStore, SqliteStore};
use serde_json::Value;

use crate::replicas::{eventually, get, sample, Replica, SECRET};
use crate::slack::fake::{command_body, post_signed, FakeSlack};

fn config(sqlite: &str, slack_api: &str) -> String {
    format!(
        "[database]\nsqlite_path = \"{sqlite}\"\n\
         [costs]\nsource = \"simulated\"\nschedule = \"*/2 * * * * *\"\nbackfill_days = 20\nbreakdown_every_hours = 0\n\
         [waste]\nschedule = \"1/2 * * * * *\"\n\
         [slack]\nbot_token = {{ env = \"REPLICA_SLACK_TOKEN\" }}\nsigning_secrets = [{{ env = \"REPLICA_SLACK_SECRET\" }}]\napi_url = \"{slack_api}\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"U1\", \"U2\"]\n"
    )
}

/// Checks every line against the text exposition format: comments are `# HELP` / `# TYPE`,
/// samples are `name{label="value",…} number`.
fn assert_exposition_format(text: &str) {
    assert!(text.ends_with('\n'), "ends with a newline");
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(comment.starts_with("HELP ") || comment.starts_with("TYPE "), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "{line}");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                (name, Some(rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"))))
            }
            None => (series, None),
        };
        let valid_name = |n: &str| {
            !n.is_empty()
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        };
        assert!(valid_name(name), "{line}");
        for pair in labels.into_iter().flat_map(|l| l.split("\",")).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label {pair}: {line}"));
            assert!(valid_name(key) && !value.trim_end_matches('"').contains('"'), "{line}");
        }
    }
}

#[tokio::test]
async fn metrics_move_with_the_work_and_sigterm_releases_leadership() {
    crate::support::init();
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("ops.sqlite");
    let mut serve = Replica::start(dir.path(), "ops", &config(sqlite.to_str().unwrap(), &fake.api_url()));
    serve.ready(Duration::from_secs(60)).await;
    assert_eq!(get(&format!("{}/readyz", serve.url)).await, Some((200, "ready".to_string())));

    // A collection and a discovery run on the schedule; a signed command is answered.
    let scrape = || async { get(&format!("{}/metrics", serve.url)).await.map(|(_, text)| text) };
    eventually("a collection and a discovery", Duration::from_secs(30), || async {
        let text = scrape().await?;
        let collected = sample(&text, "costbot_collector_runs_total{status=\"succeeded\"}")? >= 1.0;
        let discovered =
            sample(&text, "costbot_scheduled_job_runs_total{job=\"discover-waste\",outcome=\"succeeded\"}")? >= 1.0;
        (collected && discovered).then_some(())
    })
    .await;
    let body = command_body("mtd", &fake.response_url("cmd"), "t.ops");
    let answer =
        post_signed(&format!("{}/slack/commands", serve.url), SECRET, Utc::now().timestamp(), &body, &[]).await;
    assert_eq!(answer.status(), 200);
    let _ = get(&format!("{}/no-such-page/12345", serve.url)).await;

    // Store-derived gauges are cached for a few seconds; wait for a scrape that has them.
    let text = eventually("store gauges", Duration::from_secs(15), || async {
        let text = scrape().await?;
        (sample(&text, "costbot_proposals{state=\"pending\"}")? >= 1.0).then_some(text)
    })
    .await;
    assert_exposition_format(&text);
    assert_eq!(sample(&text, "costbot_is_leader"), Some(1.0), "a single replica leads");
    assert!(sample(&text, "costbot_cost_explorer_requests_total").unwrap() >= 1.0, "{text}");
    assert_eq!(sample(&text, "costbot_collector_failures_total"), Some(0.0), "{text}");
    assert!(
        sample(&text, "costbot_scheduled_job_runs_total{job=\"collect-costs\",outcome=\"succeeded\"}").unwrap() >= 1.0
    );
    assert!(text.contains("costbot_anomalies_open "), "{text}");
    let commands =
        "costbot_http_request_duration_seconds_count{route=\"/slack/commands\",method=\"POST\",status=\"200\"}";
    assert_eq!(sample(&text, commands), Some(1.0), "{text}");
    // Unknown paths share one label value, so they cannot create new series.
    assert!(text.contains("route=\"unmatched\"") && !text.contains("12345"), "{text}");
    assert!(
        sample(
            &text,
            "costbot_http_request_duration_seconds_bucket{route=\"/readyz\",method=\"GET\",status=\"200\",le=\"+Inf\"}"
        )
        .unwrap()
            >= 1.0
    );

    // SIGTERM: exit 0, and the lease is released (not left to expire).
    assert_eq!(serve.terminate(Duration::from_secs(30)).await, Some(0), "{}", serve.logs());
    let store: DynStore = Arc::new(SqliteStore::open(&sqlite).await.unwrap());
    assert!(store.live_lease(LEADER_LEASE).await.unwrap().is_none(), "released at shutdown");
    let logs = serve.logs();
    assert!(logs.contains("released leadership") && logs.contains("shut down"), "{logs}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[database]\nsqlite_path = \"c.sqlite\"\n[costs]\nsource = \"simulated\"\nbackfill_days = 10\n[waste]\nenabled = false\n").unwrap();
    for (flag, env) in [(Some("--json-logs"), None), (None, Some("json"))] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_costbot"));
        command.current_dir(dir.path()).env_remove("COSTBOT_CONFIG").env("COSTBOT_LOG", "info");
        if let Some(flag) = flag {
            command.arg(flag);
        }
        if let Some(format) = env {
            command.env("COSTBOT_LOG_FORMAT", format);
        }
        let output = command.args(["--config", "c.toml", "collect", "costs"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let events: Vec<Value> =
            stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
        let collected = events.iter().find(|e| e["message"] == "collected costs").unwrap_or_else(|| panic!("{stderr}"));
        assert_eq!(collected["level"], "INFO");
        assert_eq!(collected["target"], "costbot::collector");
        assert!(collected["rows"].as_u64().unwrap() > 0 && collected["timestamp"].is_string(), "{collected}");
    }
}

#[tokio::test]
async fn readyz_says_when_a_migration_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ready.sqlite");
    let store: DynStore = Arc::new(SqliteStore::open(&path).await.unwrap());
    let url = crate::slack::fake::serve(costbot::server::router(store.clone())).await;
    assert_eq!(get(&format!("{url}/readyz")).await, Some((200, "ready".to_string())));

    // As if this binary were newer than the schema: one of its migrations is not applied.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 10").execute(&raw).await.unwrap();
    let (status, body) = get(&format!("{url}/readyz")).await.unwrap();
    assert_eq!((status, body.as_str()), (503, "1 migration(s) not applied; run `costbot migrate`"));
    assert_eq!(
        get(&format!("{url}/healthz")).await,
        Some((200, "ok".to_string())),
        "liveness does not depend on the schema"
    );
}
