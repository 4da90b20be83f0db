//! Load benchmark for `/cost`: signed Slack slash commands of mixed kinds against a running
//! `costbot serve` (a child process) over loopback, with about 1,000,000 daily cost facts
//! (13 months × 63 accounts × 40 services) plus 14 days of hourly facts in the store.
//!
//! Run: `cargo bench --bench slash` (Postgres from `DATABASE_URL`; a scratch database is created
//! and dropped). Reports throughput, p50/p99/max latency and the server's peak RSS for Postgres
//! and SQLite. Under `cargo test --benches` (no `--bench` flag) it runs a small smoke pass.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{Days, NaiveDate, Utc};
use costbot::domain::{Account, AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, PgStore, SchemaStore, SqliteStore};
use futures::stream::{self, StreamExt};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sqlx::Connection;

const SECRET: &str = "bench-signing-secret";
const COMMANDS: [&str; 10] = [
    "mtd",
    "last month by service top 5",
    "last 7d by account top 10",
    "yesterday",
    "forecast",
    "this week service=ec2",
    "mtd compare",
    "last 30d by service",
    "anomalies",
    "2026-10-01..2026-10-15 account=acct-7",
];

struct Size {
    accounts: usize,
    services: usize,
    days: u64,
    requests: usize,
    concurrency: usize,
}

fn facts(size: &Size, today: NaiveDate) -> (Vec<CostFact>, Vec<CostFact>, Vec<Account>) {
    let accounts: Vec<Account> = (0..size.accounts)
        .map(|i| Account {
            id: AccountId::parse(&format!("{:012}", 500_000_000_000u64 + i as u64)).unwrap(),
            name: Some(format!("acct-{i}")),
            configured: true,
        })
        .collect();
    let mut services: Vec<String> =
        costbot::commands::SERVICE_ALIASES.iter().map(|(_, name)| name.to_string()).collect();
    services.dedup();
    services.extend((services.len()..size.services).map(|i| format!("Service {i:02}")));
    services.truncate(size.services);
    let services: Vec<ServiceName> = services.iter().map(|s| ServiceName::parse(s).unwrap()).collect();
    let first = today - Days::new(size.days - 1);
    let mut daily = Vec::new();
    let mut hourly = Vec::new();
    for d in 0..size.days {
        let day = first + Days::new(d);
        for (a, account) in accounts.iter().enumerate() {
            for (s, service) in services.iter().enumerate() {
                let units =
                    ((d as i128 * 7_919 + a as i128 * 104_729 + s as i128 * 1_299_709) % 2_000_000_000) * 10_000 + 1;
                let fact = |at, amount| CostFact {
                    granularity: Granularity::Daily,
                    period_start: at,
                    account: account.id.clone(),
                    service: service.clone(),
                    amount,
                    unit: "USD".into(),
                    estimated: d + 2 >= size.days,
                };
                daily.push(fact(day.and_hms_opt(0, 0, 0).unwrap(), Money::from_units(units)));
                // Fourteen days of hourly data for the first few accounts, as a payer with
                // hourly granularity opted in would have.
                if d + 14 >= size.days && a < 5 {
                    for h in 0..24 {
                        hourly.push(CostFact {
                            granularity: Granularity::Hourly,
                            ..fact(day.and_hms_opt(h, 0, 0).unwrap(), Money::from_units(units / 24))
                        });
                    }
                }
            }
        }
    }
    (daily, hourly, accounts)
}

async fn load(store: &DynStore, size: &Size) -> Result<usize> {
    let today = Utc::now().date_naive();
    let (daily, hourly, accounts) = facts(size, today);
    store.upsert_accounts(&accounts).await?;
    let source = accounts[0].id.clone();
    let range = DateRange::new(today - Days::new(size.days), today + Days::new(1))?;
    store.replace_cost_facts(&source, Granularity::Daily, &range, &daily, Utc::now().naive_utc()).await?;
    store.replace_cost_facts(&source, Granularity::Hourly, &range, &hourly, Utc::now().naive_utc()).await?;
    Ok(daily.len() + hourly.len())
}

fn sign(ts: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn body(i: usize) -> String {
    serde_urlencoded::to_string([
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/cost"),
        ("text", COMMANDS[i % COMMANDS.len()]),
        ("response_url", "http://127.0.0.1:9/respond"),
        ("trigger_id", &format!("bench.{i}")),
    ])
    .expect("form encoding")
}

/// Starts `costbot serve` on a free port with `database` settings; returns the child and URL.
async fn serve(dir: &Path, database: &str) -> Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = format!(
        "{database}\n[server]\nlisten = \"127.0.0.1:{port}\"\n[costs]\nschedule = \"0 0 0 1 1 *\"\n\
         [slack]\nbot_token = {{ env = \"BENCH_SLACK_TOKEN\" }}\nsigning_secrets = [{{ env = \"BENCH_SLACK_SECRET\" }}]\n\
         api_url = \"http://127.0.0.1:9/api\"\n[[channels]]\nplatform = \"slack\"\nid = \"C1\"\n"
    );
    std::fs::write(dir.join("bench.toml"), config)?;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["--config", "bench.toml", "serve"])
        .current_dir(dir)
        .env("BENCH_SLACK_TOKEN", "xoxb-bench")
        .env("BENCH_SLACK_SECRET", SECRET)
        .env("COSTBOT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok((child, url));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("costbot serve did not become ready")
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn hammer(name: &str, facts: usize, url: &str, pid: u32, size: &Size) -> Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(size.concurrency).build()?;
    let endpoint = Arc::new(format!("{url}/slack/commands"));
    // Warm-up: every command kind once, so caches and connections are in their steady state.
    for i in 0..COMMANDS.len() {
        send(&client, &endpoint, 1_000_000 + i).await?;
    }
    let started = Instant::now();
    let mut latencies: Vec<Duration> = stream::iter(0..size.requests)
        .map(|i| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move { send(&client, &endpoint, i).await }
        })
        .buffer_unordered(size.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed();
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "| {name:<8} | {facts:>9} | {:>6} | {:>4} | {:>8.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>7.1} |",
        size.requests,
        size.concurrency,
        size.requests as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        peak_rss_mib(pid)
    );
    Ok(())
}

async fn send(client: &reqwest::Client, endpoint: &str, i: usize) -> Result<Duration> {
    let body = body(i);
    let ts = Utc::now().timestamp().to_string();
    let started = Instant::now();
    let response = client
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", sign(&ts, &body))
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    anyhow::ensure!(status.is_success() && text.contains("blocks"), "request {i}: {status} {text}");
    Ok(started.elapsed())
}

async fn postgres(size: &Size) -> Result<()> {
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let db = format!("costbot_slash_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&url).await.context("connect to DATABASE_URL")?;
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut admin).await?;
    let bench_url = format!("{}/{db}", url.rsplit_once('/').context("DATABASE_URL has no database")?.0);
    let result = async {
        let store = PgStore::connect(&bench_url, 4).await?;
        store.migrate().await?;
        let facts = load(&(Arc::new(store.clone()) as DynStore), size).await?;
        sqlx::query("ANALYZE").execute(store.pool()).await?;
        store.pool().close().await;
        let dir = tempfile::tempdir()?;
        let (child, url) = serve(dir.path(), &format!("[database]\nurl = \"{bench_url}\"")).await?;
        let pid = child.id().unwrap_or_default();
        let outcome = hammer("postgres", facts, &url, pid, size).await;
        drop(child);
        outcome
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut admin).await?;
    result
}

async fn sqlite(size: &Size) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite");
    let store: DynStore = Arc::new(SqliteStore::open(&path).await?);
    let facts = load(&store, size).await?;
    drop(store);
    let (child, url) = serve(dir.path(), &format!("[database]\nsqlite_path = \"{}\"", path.display())).await?;
    let pid = child.id().unwrap_or_default();
    let outcome = hammer("sqlite", facts, &url, pid, size).await;
    drop(child);
    outcome
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size { accounts: 63, services: 40, days: 395, requests: 20_000, concurrency: 32 }
    } else {
        Size { accounts: 3, services: 5, days: 40, requests: 100, concurrency: 4 }
    };
    println!("signed /cost slash commands over loopback, mixed kinds: {COMMANDS:?}");
    println!("| store    |     facts |   reqs | conc |    req/s | p50 ms  | p99 ms  | max ms  | RSS MiB |");
    println!("|----------|-----------|--------|------|----------|---------|---------|---------|---------|");
    postgres(&size).await?;
    sqlite(&size).await?;
    Ok(())
}
