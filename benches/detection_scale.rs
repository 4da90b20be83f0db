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
//! `DETECT_LOOKBACK` change the size. Prints the load time, the store read alone, and runs of
//! the job: the first (a fresh job, every fact of the lookback read) opens the anomalies; the
//! second runs again with nothing new (nothing read); each later one follows a daily
//! collection of the next day's facts, written as the collector writes them, with the clock
//! a day on (the job re-reads that day: the series are kept between runs). Under
//! `cargo test --benches` (no `--bench` flag) it runs a small smoke pass.

#[path = "common/org_facts.rs"]
mod org_facts;
#[path = "common/scratch_db.rs"]
mod scratch_db;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{Days, NaiveDate, NaiveTime};
use costbot::detection::{Detection, DetectionSettings, SeriesBuilder};
use costbot::domain::anomaly::ThresholdSet;
use costbot::domain::root_cause::BreakdownRow;
use costbot::domain::sources::BreakdownSource;
use costbot::domain::{AccountId, DateRange, Granularity, ServiceName};
use costbot::store::{AccountStore, CostStore, FactFilter, PgStore};
use org_facts::{env_or, on_scratch_store, Org};

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

async fn measure(store: Arc<PgStore>, size: &Size) -> Result<()> {
    let today: NaiveDate = "2026-11-30".parse()?;
    let first = today - Days::new(size.days - 1);
    let org = Org { accounts: size.accounts, services: size.services };
    let accounts = org.accounts();
    // One series in a hundred steps up threefold in its last three days.
    let facts = org.facts(first, 0..size.days, |series, d| if series % 100 == 0 && d + 3 >= size.days { 3 } else { 1 });
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
    println!("store read alone, built facts: {} in {:.2} s", read_facts.len(), started.elapsed().as_secs_f64());
    drop(read_facts);
    let filter = FactFilter { granularity: Granularity::Daily, range: read, accounts: None };
    let started = Instant::now();
    let visited = store.visit_cost_facts(&filter, &mut |_| Ok(())).await?;
    println!("store read alone, streamed: {visited} facts in {:.2} s", started.elapsed().as_secs_f64());
    // What a run reads with: the stream summed into series as it arrives.
    let started = Instant::now();
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    let mut builder = SeriesBuilder::new(Granularity::Daily, midnight(read.start()), midnight(read.end()))?;
    store.visit_cost_facts(&filter, &mut |fact| builder.add(fact)).await?;
    let series = builder.finish();
    println!("store read into series: {} series in {:.2} s", series.len(), started.elapsed().as_secs_f64());
    drop(series);

    // The figure reads 400 days; the product's default `[anomaly] lookback_days` is
    // 100, which is what a run reads unless configured otherwise.
    let mut lookbacks = vec![size.lookback, 100.min(size.lookback)];
    lookbacks.dedup();
    let (mut as_of, mut next_day) = (as_of, size.days);
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
        println!("| run | collected before | series | facts read | findings | opened | updated | resolved |   time  |");
        println!("|-----|------------------|--------|------------|----------|--------|---------|----------|---------|");
        for run in 1..=5 {
            let mut collected = "-".to_string();
            if run >= 3 {
                // The next day, as a daily collection writes it, and the clock a day on.
                let day = org.facts(first, next_day..next_day + 1, |_, _| 1);
                let started = Instant::now();
                let range = DateRange::single_day(first + Days::new(next_day));
                store.replace_cost_facts(&accounts[0].id, Granularity::Daily, &range, &day, at).await?;
                collected = format!("{} facts, {:.2} s", day.len(), started.elapsed().as_secs_f64());
                next_day += 1;
                as_of += chrono::Duration::days(1);
            }
            let started = Instant::now();
            let report = detection.run(as_of).await?;
            println!(
                "| {run:>3} | {collected:>16} | {:>6} | {:>10} | {:>8} | {:>6} | {:>7} | {:>8} | {:>5.2} s |",
                report.series,
                report.facts_read,
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

#[tokio::main]
async fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size {
            accounts: env_or("DETECT_ACCOUNTS", 1_000) as usize,
            services: env_or("DETECT_SERVICES", 30) as usize,
            days: env_or("DETECT_DAYS", 400),
            lookback: env_or("DETECT_LOOKBACK", 400),
        }
    } else {
        Size { accounts: 10, services: 10, days: 60, lookback: 60 }
    };
    println!(
        "detection job over {} accounts x {} services x {} days, lookback {} days, on Postgres",
        size.accounts, size.services, size.days, size.lookback
    );
    on_scratch_store("costbot_detect", |store| async move { measure(store, &size).await }).await
}
