//! Collection to alert: how long after a collection has landed its facts the alert is in the
//! (fake) Slack channel, at organisation scale on Postgres.
//!
//! The store holds `ALERT_ACCOUNTS` × `ALERT_SERVICES` daily series of `ALERT_DAYS` days
//! (1,000 × 30 × 400 = 12 M facts by default). Each of `ALERT_RUNS` rounds is one daily
//! collection: the next day's facts for every series land (`replace_cost_facts`, the
//! collector's write), with a different one in 3,000 series at ten times its usual spend (so even a $10 series clears
//! the default $50 gate), and
//! the clock starts when that write has committed. It stops when `App::after_collection`
//! returns: detection over the configured lookback (`ALERT_LOOKBACK`, default the product's
//! 100 days), budgets, the alert cards into the outbox and the outbox drained into a fake
//! Slack that speaks the Web API on loopback (chart uploads included). Prints each round
//! and p50 / p99 / max. Run: `cargo bench --bench alert_latency`; under `cargo test
//! --benches` it runs a small smoke pass that checks the cards arrived.

#[allow(dead_code)]
#[path = "../tests/it/slack/fake.rs"]
mod fake;
#[path = "common/org_facts.rs"]
mod org_facts;
#[path = "common/scratch_db.rs"]
mod scratch_db;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Days;
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::{DateRange, Granularity};
use costbot::store::{AccountStore, CostStore, PgStore};
use fake::FakeSlack;
use org_facts::{env_or, on_scratch_store, Org};

struct Size {
    org: Org,
    days: u64,
    runs: u64,
    lookback: u64,
}

fn config(slack: &FakeSlack, lookback: u64) -> Result<Config> {
    std::env::set_var("COSTBOT_BENCH_SLACK_TOKEN", "xoxb-bench");
    std::env::set_var("COSTBOT_BENCH_SLACK_SECRET", "8f742231b10e8888abcd99yyyzzz85a5");
    let toml = format!(
        "[costs]\nsource = \"simulated\"\nbreakdown_every_hours = 0\n\
         [anomaly]\nlookback_days = {lookback}\n\
         [digest]\nenabled = false\n\
         [slack]\nbot_token = {{ env = \"COSTBOT_BENCH_SLACK_TOKEN\" }}\nsigning_secrets = [{{ env = \"COSTBOT_BENCH_SLACK_SECRET\" }}]\napi_url = \"{}\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\nmin_severity = \"low\"\n",
        slack.api_url()
    );
    Config::from_toml(&toml).context("bench config")
}

/// Which series a round multiplies: a different one in every 3,000, so each round opens new
/// anomalies rather than extending the last round's.
fn stepped(series: usize, round: u64) -> bool {
    series % 3_000 == (round as usize * 577) % 3_000
}

/// Cards Slack has accepted: a card with a chart is uploaded with the chart
/// (`files.completeUploadExternal`), one without is posted (`chat.postMessage`).
fn cards_in(slack: &FakeSlack) -> usize {
    slack.received("/api/chat.postMessage").len() + slack.received("/api/files.completeUploadExternal").len()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    // Nearest rank: with 20 rounds, p99 is the slowest round.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

async fn measure(store: Arc<PgStore>, size: &Size) -> Result<()> {
    // The rounds' days end yesterday: the outbox delivers by the wall clock, so a card
    // stamped with a later time would wait for it.
    let today = chrono::Utc::now().date_naive() - Days::new(size.runs + 1);
    let first = today - Days::new(size.days - 1);
    let accounts = size.org.accounts();
    let started = Instant::now();
    store.upsert_accounts(&accounts).await?;
    let history = size.org.facts(first, 0..size.days, |_, _| 1);
    let range = DateRange::new(first, today + Days::new(1))?;
    let at = chrono::Utc::now().naive_utc();
    store.replace_cost_facts(&accounts[0].id, Granularity::Daily, &range, &history, at).await?;
    sqlx::query("ANALYZE").execute(store.pool()).await?;
    println!("loaded {} facts in {:.1} s", history.len(), started.elapsed().as_secs_f64());
    drop(history);

    let slack = FakeSlack::start().await;
    slack.number_posts();
    let app = App::with_store(config(&slack, size.lookback)?, store.clone(), at).await?;
    println!("| round | stepped | opened | posts in Slack | collection write | landed → in Slack |");
    println!("|-------|---------|--------|----------------|------------------|-------------------|");
    let mut latencies = Vec::new();
    for round in 0..size.runs {
        let d = size.days + round;
        let day = first + Days::new(d);
        let facts = size.org.facts(first, d..d + 1, |series, _| if stepped(series, round) { 10 } else { 1 });
        let count = (0..size.org.accounts * size.org.services).filter(|s| stepped(*s, round)).count();
        let write = Instant::now();
        let one_day = DateRange::new(day, day + Days::new(1))?;
        store.replace_cost_facts(&accounts[0].id, Granularity::Daily, &one_day, &facts, at).await?;
        let write = write.elapsed().as_secs_f64();
        let before = cards_in(&slack);
        // The day is complete once the next one starts.
        let now = (day + Days::new(1)).and_hms_opt(0, 0, 1).context("time")?;
        let landed = Instant::now();
        let report = app.after_collection(now).await?.context("detection is enabled")?;
        let latency = landed.elapsed().as_secs_f64();
        let cards = cards_in(&slack) - before;
        println!(
            "| {round:>5} | {count:>7} | {:>6} | {cards:>14} | {write:>14.2} s | {latency:>15.2} s |",
            report.opened
        );
        anyhow::ensure!(report.opened > 0, "round {round}: the stepped series opened no anomaly");
        anyhow::ensure!(cards > 0, "round {round}: no alert card reached Slack");
        latencies.push(latency);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "landed → in Slack over {} rounds: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies[latencies.len() - 1]
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size {
            org: Org {
                accounts: env_or("ALERT_ACCOUNTS", 1_000) as usize,
                services: env_or("ALERT_SERVICES", 30) as usize,
            },
            days: env_or("ALERT_DAYS", 400),
            runs: env_or("ALERT_RUNS", 20),
            lookback: env_or("ALERT_LOOKBACK", 100),
        }
    } else {
        Size { org: Org { accounts: 100, services: 30 }, days: 60, runs: 2, lookback: 60 }
    };
    println!(
        "collection to alert over {} accounts x {} services x {} days, lookback {} days, {} rounds, on Postgres",
        size.org.accounts, size.org.services, size.days, size.lookback, size.runs
    );
    on_scratch_store("costbot_alert", |store| async move { measure(store, &size).await }).await
}
