//! Detection at organisation scale: the detection job (`Detection::run`, the store read
//! included) over 30,000 account × service series of 400 days, about 12,000,000 daily facts
//! (1,000 accounts × 30 services), on Postgres.
//!
//! Each run scores the service series plus the per-account and organisation totals the job
//! builds from them. One series in a hundred gets a step up in its last three days, so the
//! run opens anomalies and writes them, as a real run after a bad day would. Root causes use
//! a breakdown source that answers at once with no rows: Cost Explorer is not what is measured.
//!
//! Run: `cargo bench --bench detection_scale` (Postgres from `DATABASE_URL`; a scratch
//! database is created and dropped). `DETECT_ACCOUNTS`, `DETECT_SERVICES`, `DETECT_DAYS` and
//! `DETECT_LOOKBACK` change the size. Prints the load time, the store read alone, and three
//! runs of the job: the first opens the anomalies, the others find them open. Under
//! `cargo test --benches` (no `--bench` flag) it runs a small smoke pass.

#[path = "common/scratch_db.rs"]
mod scratch_db;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use costbot::detection::{Detection, DetectionSettings};
use costbot::domain::anomaly::ThresholdSet;
use costbot::domain::root_cause::BreakdownRow;
use costbot::domain::sources::BreakdownSource;
use costbot::domain::{Account, AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{AccountStore, CostStore, FactFilter, PgStore, SchemaStore};
use scratch_db::ScratchDb;

struct Size {
    accounts: usize,
    services: usize,
    days: u64,
    lookback: u64,
}

/// A breakdown source with nothing to say: root causes come out empty and cost nothing.
struct NoBreakdown;

#[async_trait]
impl BreakdownSource for NoBreakdown {
    async fn breakdown(
        &self,
        _source: &AccountId,
        _account: &AccountId,
        _service: &ServiceName,
        _range: DateRange,
    ) -> Result<(Vec<BreakdownRow>, u64)> {
        Ok((Vec::new(), 0))
    }
}

fn facts(size: &Size, first: NaiveDate) -> (Vec<CostFact>, Vec<Account>) {
    let accounts: Vec<Account> = (0..size.accounts)
        .map(|i| Account {
            id: AccountId::parse(&format!("{:012}", 600_000_000_000u64 + i as u64)).unwrap(),
            name: Some(format!("acct-{i}")),
            configured: true,
        })
        .collect();
    let services: Vec<ServiceName> =
        (0..size.services).map(|i| ServiceName::parse(&format!("Service {i:02}")).unwrap()).collect();
    let mut out = Vec::with_capacity(size.accounts * size.services * size.days as usize);
    for d in 0..size.days {
        let day = first + Days::new(d);
        for (a, account) in accounts.iter().enumerate() {
            for (s, service) in services.iter().enumerate() {
                // A base of $10–$1,000 a day with a weekly rhythm and ±5 % deterministic noise.
                let series = (a * size.services + s) as i128;
                let base = 10 + (series * 7_919) % 990;
                let weekly = if (d + series as u64) % 7 < 5 { 100 } else { 80 };
                let noise = 95 + (d as i128 * 31 + series * 17) % 11;
                let step = if series % 100 == 0 && d + 3 >= size.days { 3 } else { 1 };
                // Dollars are base × weekly/100 × noise/100 × step; Money counts 10⁻¹⁰ dollars.
                let scaled = base * weekly * noise * step;
                out.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: day.and_hms_opt(0, 0, 0).unwrap(),
                    account: account.id.clone(),
                    service: service.clone(),
                    amount: Money::from_units(scaled * 1_000_000),
                    unit: "USD".into(),
                    estimated: false,
                });
            }
        }
    }
    (out, accounts)
}

async fn measure(store: Arc<PgStore>, size: &Size) -> Result<()> {
    let today: NaiveDate = "2026-11-30".parse()?;
    let first = today - Days::new(size.days - 1);
    let (facts, accounts) = facts(size, first);
    let started = Instant::now();
    store.upsert_accounts(&accounts).await?;
    let range = DateRange::new(first, today + Days::new(1))?;
    let at = chrono::Utc::now().naive_utc();
    store.replace_cost_facts(&accounts[0].id, Granularity::Daily, &range, &facts, at).await?;
    sqlx::query("ANALYZE").execute(store.pool()).await?;
    println!("loaded {} facts in {:.1} s", facts.len(), started.elapsed().as_secs_f64());
    drop(facts);

    let as_of = (today + Days::new(1)).and_hms_opt(0, 0, 0).context("midnight")?;
    let read = DateRange::new(as_of.date() - Days::new(size.lookback), as_of.date() + Days::new(1))?;
    let started = Instant::now();
    let read_facts =
        store.cost_facts(&FactFilter { granularity: Granularity::Daily, range: read, accounts: None }).await?;
    println!("store read alone: {} facts in {:.2} s", read_facts.len(), started.elapsed().as_secs_f64());
    drop(read_facts);

    // The figure reads 400 days; the product's default `[anomaly] lookback_days` is
    // 100, which is what a run reads unless configured otherwise.
    let mut lookbacks = vec![size.lookback, 100.min(size.lookback)];
    lookbacks.dedup();
    for lookback in lookbacks {
        let settings = DetectionSettings {
            granularity: Granularity::Daily,
            lookback_days: lookback,
            thresholds: ThresholdSet::default(),
            by_tags: Vec::new(),
            usage_only: true,
        };
        let detection = Detection::new(store.clone(), Arc::new(NoBreakdown), settings);
        println!("lookback {lookback} days:");
        println!("| run | series | findings | opened | updated | resolved |   time  |");
        println!("|-----|--------|----------|--------|---------|----------|---------|");
        for run in 1..=3 {
            let started = Instant::now();
            let report = detection.run(as_of).await?;
            println!(
                "| {run:>3} | {:>6} | {:>8} | {:>6} | {:>7} | {:>8} | {:>5.2} s |",
                report.series,
                report.findings,
                report.opened,
                report.updated,
                report.resolved,
                started.elapsed().as_secs_f64()
            );
            anyhow::ensure!(report.series >= size.accounts * size.services, "scored {} series", report.series);
            if run == 1 && lookback == size.lookback {
                anyhow::ensure!(report.opened > 0, "the stepped series opened no anomaly");
            }
        }
    }
    Ok(())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size {
            accounts: env_or("DETECT_ACCOUNTS", 1_000),
            services: env_or("DETECT_SERVICES", 30),
            days: env_or("DETECT_DAYS", 400) as u64,
            lookback: env_or("DETECT_LOOKBACK", 400) as u64,
        }
    } else {
        Size { accounts: 10, services: 10, days: 60, lookback: 60 }
    };
    println!(
        "detection job over {} accounts x {} services x {} days, lookback {} days, on Postgres",
        size.accounts, size.services, size.days, size.lookback
    );
    let scratch = ScratchDb::create("costbot_detect").await?;
    let result = async {
        let store = PgStore::connect(&scratch.url, 4).await?;
        store.migrate().await?;
        let outcome = measure(Arc::new(store.clone()), &size).await;
        store.pool().close().await;
        outcome
    }
    .await;
    scratch.drop().await?;
    result
}
