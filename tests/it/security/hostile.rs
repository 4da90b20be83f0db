//! Hostile text never panics, on any platform, and is answered politely.

use chrono::Utc;
use serde_json::Value;

use super::{console_command, discord_command, discord_post, serve_all, Peers, SLACK_SECRET};
use crate::slack::fake::{command_body, post_signed};

/// The inputs from the issue: a year past chrono's limit, a year costbot does not answer for,
/// a day February does not have, and a period that has not started.
const CASES: &[(&str, &str)] = &[
    ("+262142-12-31", "outside the years costbot answers for"),
    ("9999-12-31", "outside the years costbot answers for"),
    ("2026-02-30", "is not a calendar date: February 2026 has 28 days"),
    ("2099-12-01..2099-12-31", "hasn't started yet"),
];

#[tokio::test]
async fn the_panic_input_is_answered_politely_on_all_three_platforms() {
    let Peers { base, slack, key, .. } = serve_all("", "").await;
    for (i, (text, expected)) in CASES.iter().enumerate() {
        let ts = Utc::now().timestamp();
        let body = command_body(text, &slack.response_url("cmd"), &format!("t.{i}"));
        let answer = post_signed(&format!("{base}/slack/commands"), SLACK_SECRET, ts, &body, &[]).await;
        assert_eq!(answer.status(), 200, "slack {text}");
        let answer: Value = answer.json().await.unwrap();
        assert!(answer.to_string().contains(expected), "slack {text}: {answer}");

        let answer = discord_post(&base, &key, ts, &discord_command(text)).await;
        assert_eq!(answer.status(), 200, "discord {text}");
        let answer: Value = answer.json().await.unwrap();
        assert!(answer.to_string().contains(expected), "discord {text}: {answer}");

        let answer = console_command(&base, text).await;
        assert_eq!(answer.status(), 200, "console {text}");
        let answer = answer.text().await.unwrap();
        assert!(answer.contains(expected), "console {text}: {answer}");
    }
}

/// The fuzz harness's smoke run: a few thousand inputs per target (the full run is
/// `cargo run --release --example fuzz`, figures in docs/security.md).
#[tokio::test]
async fn a_fuzz_smoke_run_finds_no_panic_in_any_target() {
    crate::support::init();
    let outcomes = super::fuzz_harness::run(3_000, 7, &[]).await.unwrap();
    let names: Vec<&str> = outcomes.iter().map(|o| o.target).collect();
    assert_eq!(names, super::fuzz_harness::TARGETS, "commands, two Slack targets, Discord");
    // A target run alone sees the same inputs as in the full run (each has its own generator).
    let alone = super::fuzz_harness::run(500, 7, &["discord"]).await.unwrap();
    let within = super::fuzz_harness::run(500, 7, &[]).await.unwrap();
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].note, within[3].note, "the same Discord inputs either way");
    for outcome in &outcomes {
        assert_eq!(outcome.panics.count, 0, "{outcome}");
        assert_eq!(outcome.inputs, 3_000);
    }
    assert!(outcomes.iter().all(|o| !o.note.starts_with("0 ")), "every target reached its parser");
}
