//! Discovery at organisation scale: the discovery job (`Discovery::run` over `AwsInventory`,
//! through the real AWS SDK and its retries, the inventory stored in SQLite, the rules
//! applied) against an in-process fake of the EC2, RDS and CloudWatch query APIs
//! (benches/common/fake_aws.rs) serving 1,000 accounts × 16 regions with 50 resources each.
//! Every request is answered after 50 ms, and each account and region has AWS-like token
//! buckets that answer `RequestLimitExceeded` (EC2) or `Throttling` (RDS, CloudWatch).
//!
//! Each scenario prints its wall time, the requests, throttled answers and retries the fake
//! counted, how the accounts' finish times spread, and checks that every target succeeded and
//! the findings are exactly the seeded waste (23 per account and region).
//!
//! Scenarios: `documented` (AWS's published bucket sizes, full at the start) and `drained`
//! (the same refill rates, but every bucket starts empty, as if the account's other tools had
//! just used it up: every first request of an action is throttled and must be retried).
//!
//! Run: `cargo bench --bench discovery_scale`. `DISC_ACCOUNTS`, `DISC_REGIONS`,
//! `DISC_CONCURRENCY` (`[waste] concurrency`), `DISC_LATENCY_MS` and `DISC_SCENARIOS`
//! (comma-separated) change the run. Under `cargo test --all-targets` (no `--bench` flag) it
//! runs a smoke pass: 3 accounts × 2 regions, drained buckets, and asserts the findings, that
//! nothing failed, and that throttled requests were retried; no timing is asserted.
//!
//! Cost Explorer: the same fake serves `GetCostAndUsage` for 50 payers (`DISC_CE_PAYERS`, 0
//! to skip) of 20 linked accounts × 30 services, each reached through its role (the fake
//! answers STS `AssumeRole`). The collector runs twice (a backfill, then a daily run) and
//! each run's requests and their price ($0.01 each) are printed.

#[path = "common/fake_aws.rs"]
mod fake_aws;
#[path = "common/fake_ce.rs"]
mod fake_ce;
#[path = "common/fake_inventory.rs"]
mod fake_inventory;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use costbot::aws::inventory::AwsInventory;
use costbot::collector::{CollectSettings, Collector};
use costbot::config::Config;
use costbot::discovery::Discovery;
use costbot::domain::AccountId;
use costbot::domain::Granularity;
use costbot::store::{DynStore, SqliteStore};
use fake_aws::{AccountStats, FakeAws, Limits};
use fake_ce::CeLayout;
use fake_inventory::EXPECTED;

/// Sixteen commercial regions, the organisation size the issue names.
const REGIONS: [&str; 16] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

struct Size {
    accounts: usize,
    regions: usize,
    concurrency: Option<usize>,
    latency: Duration,
    scenarios: Vec<String>,
    /// Cost Explorer payers (0: no Cost Explorer run), and what each holds.
    payers: usize,
    ce: CeLayout,
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

impl Size {
    fn from_env(full: bool) -> Size {
        let (accounts, regions, scenarios) = if full { (1_000, 16, "documented,drained") } else { (3, 2, "drained") };
        // 50 payers of 20 linked accounts each are the 1,000 accounts; 30 services as
        // in benches/detection_scale.rs.
        let (payers, ce) =
            if full { (50, CeLayout { linked: 20, services: 30 }) } else { (2, CeLayout { linked: 2, services: 3 }) };
        Size {
            accounts: env("DISC_ACCOUNTS").unwrap_or(accounts),
            regions: env::<usize>("DISC_REGIONS").unwrap_or(regions).clamp(1, REGIONS.len()),
            concurrency: env("DISC_CONCURRENCY"),
            latency: Duration::from_millis(env("DISC_LATENCY_MS").unwrap_or(50)),
            scenarios: std::env::var("DISC_SCENARIOS")
                .unwrap_or_else(|_| scenarios.to_string())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            payers: env("DISC_CE_PAYERS").unwrap_or(payers),
            ce,
        }
    }
}

fn account_id(i: usize) -> String {
    format!("{:012}", 700_000_000_000u64 + i as u64)
}

/// The configuration an operator of this organisation would write: every account listed, the
/// regions, and the rules whose APIs the fake does not serve (snapshots, NAT gateways, load
/// balancers) turned off so discovery does not ask for them.
fn config(url: &str, size: &Size) -> Result<Config> {
    let regions: Vec<String> = REGIONS[..size.regions].iter().map(|r| format!("\"{r}\"")).collect();
    let concurrency = size.concurrency.map_or(String::new(), |c| format!("concurrency = {c}\n"));
    let retry = std::env::var("DISC_RETRY_MODE").map_or(String::new(), |m| format!("retry_mode = \"{m}\"\n"));
    let mut toml = format!(
        "[aws]\nendpoint_url = \"{url}\"\n{retry}[waste]\nregions = [{}]\n{concurrency}\
         [waste.rules]\ndisabled = [\"old_snapshot\", \"orphaned_db_snapshot\", \"idle_nat_gateway\", \"idle_load_balancer\"]\n",
        regions.join(", ")
    );
    for i in 0..size.accounts {
        toml.push_str(&format!("[[accounts]]\nid = \"{}\"\n", account_id(i)));
    }
    Config::from_toml(&toml)
}

/// One SDK configuration per account, each signing with its own access key id, so the fake
/// knows the account of every request; retries as `[aws]` configures them.
async fn inventory(config: &Config) -> Result<AwsInventory> {
    let base = costbot::aws::base_config(&config.aws).await;
    let mut configs = HashMap::new();
    for account in &config.accounts {
        let key = fake_aws::access_key(account.id.as_str());
        let credentials = Credentials::new(key, "fake-secret", None, None, "discovery_scale");
        let sdk = base.to_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build();
        configs.insert(account.id.clone(), sdk);
    }
    Ok(AwsInventory::new(configs, config.waste.price_table(), config.waste.idle_days).with_rules(config.waste.rules()))
}

/// What one run showed.
struct Outcome {
    took: Duration,
    concurrency: usize,
    failures: usize,
    by_rule: BTreeMap<String, usize>,
    by_account: HashMap<AccountId, usize>,
    stats: HashMap<String, AccountStats>,
}

async fn run(fake: &FakeAws, size: &Size) -> Result<Outcome> {
    let config = config(&fake.url, size)?;
    let store: DynStore = Arc::new(SqliteStore::in_memory().await?);
    let inventory = Arc::new(inventory(&config).await?);
    let job = Discovery::from_config(&config, store, inventory)?;
    fake.reset();
    let started = Instant::now();
    let report = job.run(chrono::Utc::now().naive_utc()).await?;
    let took = started.elapsed();
    for failure in report.failures.iter().take(5) {
        println!("    failed: {} {}: {}", failure.account, failure.region, failure.error);
    }
    let mut by_rule = BTreeMap::new();
    let mut by_account = HashMap::new();
    for finding in &report.findings {
        *by_rule.entry(finding.rule.clone()).or_default() += 1;
        *by_account.entry(finding.resource.reference.account.clone()).or_default() += 1;
    }
    Ok(Outcome {
        took,
        concurrency: job.concurrency,
        failures: report.failures.len(),
        by_rule,
        by_account,
        stats: fake.stats(),
    })
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The row of the results table, and the per-account spread below it.
fn print(scenario: &str, size: &Size, o: &Outcome) {
    let total = |f: fn(&AccountStats) -> u64| o.stats.values().map(f).sum::<u64>();
    let findings: usize = o.by_rule.values().sum();
    println!(
        "| {scenario:<10} | {} × {} | {:>4} | {:>9} | {:>8} | {:>8} | {:>8} | {:>6} | {:>8} |",
        size.accounts,
        size.regions,
        o.concurrency,
        secs(o.took),
        total(|s| s.requests),
        total(|s| s.throttled),
        total(|s| s.retries),
        o.failures,
        findings
    );
    let mut finish: Vec<Duration> = o.stats.values().map(|s| s.last).collect();
    let mut span: Vec<Duration> = o.stats.values().map(|s| s.last.saturating_sub(s.first)).collect();
    finish.sort();
    span.sort();
    let pick = |v: &[Duration], q: f64| v.get(((v.len().max(1) - 1) as f64 * q) as usize).copied().unwrap_or_default();
    let most = |f: fn(&AccountStats) -> u64| o.stats.values().map(f).max().unwrap_or(0);
    println!(
        "    per account: first-to-last request median {}, max {}; last request min {}, max {}; \
         retries max {}, throttled max {}, highest attempt {}",
        secs(pick(&span, 0.5)),
        secs(pick(&span, 1.0)),
        secs(pick(&finish, 0.0)),
        secs(pick(&finish, 1.0)),
        most(|s| s.retries),
        most(|s| s.throttled),
        o.stats.values().map(|s| s.max_attempt).max().unwrap_or(0),
    );
    println!("    findings by rule: {:?}", o.by_rule);
}

/// The findings are exactly the seeded waste, for every account, and nothing failed.
fn check(size: &Size, o: &Outcome) -> Result<()> {
    ensure!(o.failures == 0, "{} targets failed", o.failures);
    let pairs = size.accounts * size.regions;
    for (rule, per_pair) in EXPECTED {
        let found = o.by_rule.get(rule).copied().unwrap_or(0);
        ensure!(found == per_pair * pairs, "{rule}: {found} findings, expected {}", per_pair * pairs);
    }
    let per_account: usize = EXPECTED.iter().map(|(_, n)| n).sum::<usize>() * size.regions;
    ensure!(o.by_account.len() == size.accounts, "findings for {} of {} accounts", o.by_account.len(), size.accounts);
    ensure!(o.by_account.values().all(|n| *n == per_account), "an account has other than {per_account} findings");
    ensure!(o.by_rule.len() == EXPECTED.len(), "unexpected rules fired: {:?}", o.by_rule);
    Ok(())
}

/// Two collections of every payer through its role, as the collector runs them: the first
/// backfills `[costs] backfill_days`, the next re-reads the restated days. Prints each run's
/// requests (pages included) and what they cost.
async fn cost_explorer(fake: &FakeAws, size: &Size) -> Result<()> {
    let mut toml = format!("[aws]\nendpoint_url = \"{}\"\n", fake.url);
    for p in 0..size.payers {
        let id = fake_ce::payer_id(p);
        toml.push_str(&format!(
            "[[accounts]]\nid = \"{id}\"\ncost_explorer = true\nrole_arn = \"arn:aws:iam::{id}:role/costbot-read\"\n"
        ));
    }
    let config = Config::from_toml(&toml)?;
    let source = Arc::new(costbot::aws::cost_explorer::CostExplorerSource::from_config(&config).await?);
    let store = Arc::new(SqliteStore::in_memory().await?);
    let payers: Vec<AccountId> = config.accounts.iter().map(|a| a.id.clone()).collect();
    let settings = CollectSettings {
        granularity: Granularity::Daily,
        metric: config.costs.metric.clone(),
        restatement_days: config.costs.restatement_days,
        backfill_days: config.costs.backfill_days,
        breakdown_every: None,
        tag_keys: Vec::new(),
        usage_only: false,
    };
    let collector = Collector::new(store, source, payers, settings);
    println!(
        "cost explorer: {} payers × {} linked accounts × {} services, {} days a page",
        size.payers,
        size.ce.linked,
        size.ce.services,
        fake_ce::PAGE_DAYS
    );
    println!("| run       |      wall | requests | price  | facts written | failed payers |");
    println!("|-----------|-----------|----------|--------|---------------|---------------|");
    let today = chrono::Utc::now().date_naive();
    for label in ["backfill", "daily"] {
        fake.reset();
        let started = Instant::now();
        let run = collector.run(today, None, None).await?;
        let took = started.elapsed();
        let requests = fake.calls().get("ce:GetCostAndUsage").copied().unwrap_or(0);
        let failed = run.sources.iter().filter(|s| s.error.is_some()).count();
        println!(
            "| {label:<9} | {:>9} | {requests:>8} | ${:>5.2} | {:>13} | {failed:>13} |",
            secs(took),
            requests as f64 * fake_ce::PRICE_PER_REQUEST,
            run.rows_written
        );
        for source in run.sources.iter().filter(|s| s.error.is_some()).take(3) {
            println!("    failed: {}: {:?}", source.source, source.error);
        }
        ensure!(failed == 0, "{failed} payers failed");
        ensure!(requests == run.api_calls, "the fake saw {requests} requests, the collector counted {}", run.api_calls);
        let per_day = (size.payers * size.ce.linked * size.ce.services) as u64;
        ensure!(
            run.rows_written > 0 && run.rows_written % per_day == 0,
            "{} facts is not whole days",
            run.rows_written
        );
    }
    Ok(())
}

fn limits(scenario: &str) -> Result<Limits> {
    Ok(match scenario {
        "documented" => Limits::documented(),
        "drained" => Limits { start_empty: true, ..Limits::documented() },
        other => bail!("unknown scenario {other} (documented, drained)"),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    // The ambient credentials, which Cost Explorer's AssumeRole calls sign with; discovery's
    // accounts each get their own (see `inventory`).
    std::env::set_var("AWS_ACCESS_KEY_ID", fake_aws::access_key("000000000000"));
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "fake-secret");
    let full = std::env::args().any(|a| a == "--bench");
    let size = Size::from_env(full);
    let regions: Vec<String> = REGIONS[..size.regions].iter().map(|r| r.to_string()).collect();
    println!(
        "discovery_scale: {} accounts × {} regions × {} resources, {} ms a request",
        size.accounts,
        size.regions,
        fake_inventory::RESOURCES,
        size.latency.as_millis()
    );
    println!("| scenario   | targets | conc |      wall | requests | throttled | retries | failed | findings |");
    println!("|------------|---------|------|-----------|----------|-----------|---------|--------|----------|");
    for scenario in &size.scenarios {
        let fake = FakeAws::start(&regions, size.latency, limits(scenario)?, size.ce).await?;
        let outcome = run(&fake, &size).await?;
        print(scenario, &size, &outcome);
        let mut calls: Vec<_> = fake.calls().into_iter().collect();
        calls.sort();
        println!("    requests by call: {calls:?}");
        check(&size, &outcome)?;
        if scenario == "drained" {
            let throttled: u64 = outcome.stats.values().map(|s| s.throttled).sum();
            let retries: u64 = outcome.stats.values().map(|s| s.retries).sum();
            ensure!(throttled > 0, "drained buckets throttled nothing");
            ensure!(retries >= throttled, "{throttled} throttled answers but only {retries} retries");
        }
    }
    if size.payers > 0 {
        let fake = FakeAws::start(&regions, size.latency, Limits::documented(), size.ce).await?;
        cost_explorer(&fake, &size).await?;
    }
    Ok(())
}
