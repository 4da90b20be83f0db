//! Load benchmark for `/cost`: signed Slack slash commands of mixed kinds against a running
//! `costbot serve` (a child process) over loopback, with about 1,000,000 daily cost facts
//! (13 months × 63 accounts × 40 services) plus 14 days of hourly facts in the store.
//!
//! Two loads run against each store. `mixed` cycles through ten question kinds, so nine of ten
//! questions repeat and the answer cache serves them. `distinct` draws every question afresh
//! from the grammar (random day ranges, months, last-N-days, groupings, top N, filters, compare)
//! and sends it from one of eight channels with different account scopes; no question is sent
//! twice, so every answer comes from the store.
//!
//! Run: `cargo bench --bench slash` (Postgres from `DATABASE_URL`; a scratch database is created
//! and dropped). Reports throughput, p50/p99/max latency, the server's peak RSS and the CPU
//! seconds the server and the load generator (this process) used during the load, so the
//! server's share of the machine is known. Under `cargo test --benches` (no `--bench` flag) it
//! runs a small smoke pass.

#[path = "common/scratch_db.rs"]
mod scratch_db;

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{Days, NaiveDate, Utc};
use costbot::domain::{
    Account, AccountId, BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity, Money, ServiceName,
};
use costbot::store::{DynStore, PgStore, SchemaStore, SqliteStore};
use futures::stream::{self, StreamExt};
use hmac::{Hmac, KeyInit, Mac};
use rand::{Rng, SeedableRng};
use scratch_db::ScratchDb;
use sha2::Sha256;

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

static TRIGGERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Channels of the `distinct` load: `C1` sees every account, the others a few accounts each.
const CHANNELS: usize = 8;
/// Service aliases the grammar knows; filters draw from them.
const SERVICE_FILTERS: [&str; 6] = ["ec2", "rds", "s3", "lambda", "dynamodb", "cloudwatch"];

struct Size {
    accounts: usize,
    services: usize,
    days: u64,
    requests: usize,
    concurrency: usize,
    /// Whether record-type and region breakdowns are stored beside the facts.
    breakdowns: bool,
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
    let mut breakdowns = 0;
    if size.breakdowns {
        // What the collector stores beside the facts, which every answer without a service
        // filter reads (record types: gross, credits, net) and `by region` reads: three record
        // types and four regions per account and day.
        for (dimension, keys) in [
            (BreakdownDimension::RecordType, &["Usage", "Tax", "Credit"][..]),
            (BreakdownDimension::Region, &["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1"][..]),
        ] {
            let rows = breakdown_rows(&daily, dimension, keys);
            breakdowns += rows.len();
            store
                .replace_breakdowns(&source, Granularity::Daily, dimension, &range, &rows, Utc::now().naive_utc())
                .await?;
        }
    }
    println!("loaded {} daily and {} hourly facts and {breakdowns} breakdown rows", daily.len(), hourly.len());
    Ok(daily.len() + hourly.len())
}

/// One row per account, day and key of `dimension`, each key a share of the account's spend
/// that day (a credit is negative).
fn breakdown_rows(daily: &[CostFact], dimension: BreakdownDimension, keys: &[&str]) -> Vec<BreakdownFact> {
    let mut per_day: std::collections::BTreeMap<(chrono::NaiveDateTime, &AccountId), (Money, bool)> =
        std::collections::BTreeMap::new();
    for fact in daily {
        let entry = per_day.entry((fact.period_start, &fact.account)).or_insert((Money::ZERO, false));
        entry.0 += fact.amount;
        entry.1 |= fact.estimated;
    }
    let mut out = Vec::with_capacity(per_day.len() * keys.len());
    for ((at, account), (amount, estimated)) in per_day {
        for (k, key) in keys.iter().enumerate() {
            let share = Money::from_units(amount.to_units() / (k as i128 + 2));
            out.push(BreakdownFact {
                granularity: Granularity::Daily,
                period_start: at,
                account: account.clone(),
                dimension,
                key: key.to_string(),
                amount: if *key == "Credit" { -share } else { share },
                estimated,
            });
        }
    }
    out
}

fn sign(ts: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// One question: the channel it is asked in and the text after `/cost`.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Question {
    channel: String,
    text: String,
}

/// The `mixed` load: the ten kinds in turn, all from the unscoped channel.
fn mixed(requests: usize) -> Vec<Question> {
    (0..requests).map(|i| Question { channel: "C1".into(), text: COMMANDS[i % COMMANDS.len()].into() }).collect()
}

/// The `distinct` load: `requests` different questions drawn from the grammar with a fixed seed,
/// over the days the store holds, so the run is the same every time.
fn distinct(requests: usize, size: &Size, today: NaiveDate) -> Vec<Question> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let first = today - Days::new(size.days - 1);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(requests);
    while out.len() < requests {
        let question = draw(&mut rng, size, first);
        if seen.insert(question.clone()) {
            out.push(question);
        }
    }
    out
}

fn draw(rng: &mut impl Rng, size: &Size, first: NaiveDate) -> Question {
    let mut words = Vec::new();
    match rng.gen_range(0..10) {
        0..=5 => {
            let start = first + Days::new(rng.gen_range(0..size.days));
            let end = start + Days::new(rng.gen_range(0..90));
            words.push(format!("{}..{}", start, end.min(first + Days::new(size.days - 1))));
        }
        6 => words.push((first + Days::new(rng.gen_range(0..size.days))).format("%Y-%m").to_string()),
        7 => words.push(format!("last {}d", rng.gen_range(1..=400))),
        _ => words.push(
            ["mtd", "yesterday", "last month", "this week", "last week", "this month"][rng.gen_range(0..6)].into(),
        ),
    }
    if rng.gen_bool(0.6) {
        words.push(["by service", "by account", "by usage-type", "by region"][rng.gen_range(0..4)].into());
        if rng.gen_bool(0.5) {
            words.push(format!("top {}", rng.gen_range(1..=20)));
        }
    }
    match rng.gen_range(0..4) {
        0 => words.push(format!("service={}", SERVICE_FILTERS[rng.gen_range(0..SERVICE_FILTERS.len())])),
        1 => words.push(format!("account=acct-{}", rng.gen_range(0..size.accounts))),
        _ => {}
    }
    if rng.gen_bool(0.2) {
        words.push("compare".into());
    }
    Question { channel: format!("C{}", rng.gen_range(1..=CHANNELS)), text: words.join(" ") }
}

fn body(i: usize, question: &Question) -> String {
    serde_urlencoded::to_string([
        ("team_id", "T1"),
        ("channel_id", question.channel.as_str()),
        ("user_id", "U1"),
        ("command", "/cost"),
        ("text", question.text.as_str()),
        ("response_url", "http://127.0.0.1:9/respond"),
        // Unique per request across loads: a repeated trigger id is a redelivery, which the
        // server acknowledges without answering again.
        ("trigger_id", &format!("bench.{i}.{}", TRIGGERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed))),
    ])
    .expect("form encoding")
}

/// The `[[channels]]` of the bench: `C1` unscoped, `C2`… each scoped to three accounts.
fn channels(size: &Size) -> String {
    let mut out = String::from("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\n");
    for c in 2..=CHANNELS {
        let ids: Vec<String> =
            (0..3).map(|k| format!("\"{:012}\"", 500_000_000_000u64 + ((c * 3 + k) % size.accounts) as u64)).collect();
        out.push_str(&format!("[[channels]]\nplatform = \"slack\"\nid = \"C{c}\"\naccounts = [{}]\n", ids.join(", ")));
    }
    out
}

/// Starts `costbot serve` on a free port with `database` settings; returns the child and URL.
async fn serve(dir: &Path, database: &str, size: &Size) -> Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = format!(
        "{database}\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         chat_burst_per_person = 1000000\nchat_burst_per_channel = 1000000\n[costs]\nschedule = \"0 0 0 1 1 *\"\n[digest]\nenabled = false\n\
         [slack]\nbot_token = {{ env = \"BENCH_SLACK_TOKEN\" }}\nsigning_secrets = [{{ env = \"BENCH_SLACK_SECRET\" }}]\n\
         api_url = \"http://127.0.0.1:9/api\"\n{}",
        channels(size)
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

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name; the kernel
    // reports them in USER_HZ, which is 100 on every Linux this runs on.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far by every process named `postgres` (the database's backends and
/// helpers), so the table shows what the database cost beside the server and the generator.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).map(str::to_owned))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains("(postgres)")))
        .map(|pid| cpu_seconds(&pid))
        .sum()
}

/// Runs one load against the server and prints its row of the table.
async fn hammer(
    name: &str,
    load: &str,
    facts: usize,
    url: &str,
    pid: u32,
    questions: &[Question],
    size: &Size,
) -> Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(size.concurrency).build()?;
    let endpoint = Arc::new(format!("{url}/slack/commands"));
    // Warm-up: every mixed kind once, so connections and prepared statements are in their steady
    // state; the distinct questions themselves are never sent before they are measured.
    for (i, question) in mixed(COMMANDS.len()).iter().enumerate() {
        send(&client, &endpoint, 1_000_000 + i, question).await?;
    }
    let (server_cpu, own_cpu, db_cpu) = (cpu_seconds(&pid.to_string()), cpu_seconds("self"), postgres_cpu_seconds());
    let started = Instant::now();
    let replies: Vec<(Duration, Reply)> = stream::iter(questions.iter().enumerate())
        .map(|(i, question)| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move { send(&client, &endpoint, i, question).await }
        })
        .buffer_unordered(size.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed().as_secs_f64();
    let count = |kind: Reply| replies.iter().filter(|(_, reply)| *reply == kind).count();
    let (answered, deferred) = (count(Reply::Answered), count(Reply::Deferred));
    let mut latencies: Vec<Duration> = replies.into_iter().map(|(latency, _)| latency).collect();
    let server_cpu = cpu_seconds(&pid.to_string()) - server_cpu;
    let own_cpu = cpu_seconds("self") - own_cpu;
    // Backends that exit during the load drop out of the sum; the pool keeps its connections,
    // so the figure is close. SQLite runs inside the server and shows 0 here.
    let db_cpu = (postgres_cpu_seconds() - db_cpu).max(0.0);
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "| {name:<8} | {load:<8} | {facts:>9} | {:>6} | {:>4} | {:>7.0} | {:>6.2} | {:>6.2} | {:>7.2} | {:>7.1} | {:>10.2} | {:>8.2} | {:>11.2} | {:>10.1} | {:>8} |",
        questions.len(),
        size.concurrency,
        questions.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        peak_rss_mib(pid),
        server_cpu / elapsed,
        db_cpu / elapsed,
        own_cpu / elapsed,
        answered as f64 * 100.0 / questions.len() as f64,
        deferred,
    );
    Ok(())
}

/// What a reply was.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Spend posted in the channel.
    Answered,
    /// An ephemeral explanation (nothing to show in this scope, say).
    Explained,
    /// Acknowledged empty after the deadline; the answer went to `response_url`.
    Deferred,
}

/// Sends one signed command; returns its latency and what the reply was.
async fn send(client: &reqwest::Client, endpoint: &str, i: usize, question: &Question) -> Result<(Duration, Reply)> {
    let body = body(i, question);
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
    // An empty 200 is Slack's acknowledgement of a question that took longer than the 2.5 s
    // deadline: the answer follows on `response_url`. Its latency here (the acknowledgement)
    // is a lower bound on the answer's, and it is counted as deferred.
    if status.is_success() && text.is_empty() {
        return Ok((started.elapsed(), Reply::Deferred));
    }
    anyhow::ensure!(status.is_success() && text.contains("blocks"), "request {i} ({}): {status} {text}", question.text);
    // A rate-limit refusal is fast and would flatter the figures; the bench raises the limits,
    // and this keeps it honest if they ever bind again.
    anyhow::ensure!(!text.contains("Slow down"), "request {i} was rate limited: {text}");
    // Spend answers are posted in the channel; a question the store cannot answer (a service
    // with no spend in range, say) gets an ephemeral explanation, still from the store.
    let answered = text.contains("\"response_type\":\"in_channel\"");
    Ok((started.elapsed(), if answered { Reply::Answered } else { Reply::Explained }))
}

/// Both loads against one running server.
async fn loads(name: &str, facts: usize, url: &str, pid: u32, size: &Size) -> Result<()> {
    hammer(name, "mixed", facts, url, pid, &mixed(size.requests), size).await?;
    let questions = distinct(size.requests, size, Utc::now().date_naive());
    hammer(name, "distinct", facts, url, pid, &questions, size).await
}

async fn postgres(size: &Size) -> Result<()> {
    let scratch = ScratchDb::create("costbot_slash").await?;
    let bench_url = scratch.url.clone();
    let result = async {
        let store = PgStore::connect(&bench_url, 4).await?;
        store.migrate().await?;
        let facts = load(&(Arc::new(store.clone()) as DynStore), size).await?;
        // What autovacuum does soon after a backfill: statistics, and the visibility map and
        // hint bits set once, so the measured answers do not each pay for the first read of
        // freshly loaded pages (a one-off cost of the load, not of answering).
        sqlx::query("VACUUM (ANALYZE)").execute(store.pool()).await?;
        store.pool().close().await;
        let dir = tempfile::tempdir()?;
        let (child, url) = serve(dir.path(), &format!("[database]\nurl = \"{bench_url}\""), size).await?;
        let pid = child.id().unwrap_or_default();
        let outcome = loads("postgres", facts, &url, pid, size).await;
        drop(child);
        outcome
    }
    .await;
    scratch.drop().await?;
    result
}

async fn sqlite(size: &Size) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite");
    let store: DynStore = Arc::new(SqliteStore::open(&path).await?);
    let facts = load(&store, size).await?;
    drop(store);
    let (child, url) = serve(dir.path(), &format!("[database]\nsqlite_path = \"{}\"", path.display()), size).await?;
    let pid = child.id().unwrap_or_default();
    let outcome = loads("sqlite", facts, &url, pid, size).await;
    drop(child);
    outcome
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        // 63 accounts x 40 services x 395 days is about 1,000,000 facts; the large
        // organisation (1,000 accounts x 30 services x 400 days, 12 M) is
        // `SLASH_ACCOUNTS=1000 SLASH_SERVICES=30 SLASH_DAYS=400`.
        Size {
            accounts: env_or("SLASH_ACCOUNTS", 63),
            services: env_or("SLASH_SERVICES", 40),
            days: env_or("SLASH_DAYS", 395) as u64,
            requests: env_or("SLASH_REQUESTS", 20_000),
            concurrency: 32,
            // `SLASH_BREAKDOWNS=0` loads the facts alone, as the benchmark did before.
            breakdowns: env_or("SLASH_BREAKDOWNS", 1) != 0,
        }
    } else {
        Size { accounts: 3, services: 5, days: 40, requests: 100, concurrency: 4, breakdowns: true }
    };
    println!("signed /cost slash commands over loopback; mixed kinds: {COMMANDS:?}; distinct: drawn from the grammar");
    println!("CPU columns: cores used on average during the load (CPU seconds / wall seconds); {} cores here", cores());
    println!("| store    | load     |     facts |   reqs | conc |   req/s | p50 ms | p99 ms |  max ms | RSS MiB | server CPU | pg CPU   | loadgen CPU | answered % | deferred |");
    println!("|----------|----------|-----------|--------|------|---------|--------|--------|---------|---------|------------|----------|-------------|------------|----------|");
    postgres(&size).await?;
    // `SLASH_STORES=postgres` skips SQLite, whose target is at 1 M facts only.
    if std::env::var("SLASH_STORES").map_or(true, |s| s.contains("sqlite")) {
        sqlite(&size).await?;
    }
    Ok(())
}
