//! Ingest benchmark: how fast 1,000,000 cost facts go into Postgres and SQLite through the
//! same `replace_cost_facts` path the collector uses.
//!
//! Run: `cargo bench --bench ingest` (Postgres from `DATABASE_URL`; a scratch database is
//! created and dropped). Under `cargo test --benches` (no `--bench` flag) it runs a 10,000-fact
//! smoke pass so the benchmark keeps compiling and working.

#[path = "common/scratch_db.rs"]
mod scratch_db;

use std::time::Instant;

use anyhow::Result;
use chrono::{Days, NaiveDate};
use costbot::domain::{AccountId, CostFact, DateRange, Granularity, Money, ServiceName};
use costbot::store::{DynStore, PgStore, SchemaStore, SqliteStore};
use scratch_db::ScratchDb;

/// Facts per day: 100 accounts x 40 services.
const ACCOUNTS: usize = 100;
const SERVICES: usize = 40;

fn facts(days: u64) -> (Vec<CostFact>, DateRange) {
    let start: NaiveDate = "2025-10-01".parse().unwrap_or_default();
    let accounts: Vec<AccountId> =
        (0..ACCOUNTS).map(|i| AccountId::parse(&format!("{:012}", 100_000_000_000u64 + i as u64)).unwrap()).collect();
    let services: Vec<ServiceName> =
        (0..SERVICES).map(|i| ServiceName::parse(&format!("Service {i:02}")).unwrap()).collect();
    let mut out = Vec::with_capacity(days as usize * ACCOUNTS * SERVICES);
    for d in 0..days {
        let day = start + Days::new(d);
        for (a, account) in accounts.iter().enumerate() {
            for (s, service) in services.iter().enumerate() {
                // Ten-decimal amounts like Cost Explorer's, varied so nothing compresses away.
                let units =
                    ((d as i128 * 7_919 + a as i128 * 104_729 + s as i128 * 1_299_709) % 9_999_999_999) * 1_000 + 1;
                out.push(CostFact {
                    granularity: Granularity::Daily,
                    period_start: day.and_hms_opt(0, 0, 0).unwrap(),
                    account: account.clone(),
                    service: service.clone(),
                    amount: Money::from_units(units),
                    unit: "USD".into(),
                    estimated: false,
                });
            }
        }
    }
    let range = DateRange::new(start, start + Days::new(days)).unwrap();
    (out, range)
}

async fn measure(name: &str, store: DynStore, facts: &[CostFact], range: &DateRange) -> Result<()> {
    let source = AccountId::parse("100000000000")?;
    let at = chrono::Utc::now().naive_utc();
    for pass in ["first load", "re-run (upsert)"] {
        let started = Instant::now();
        let written = store.replace_cost_facts(&source, Granularity::Daily, range, facts, at).await?;
        let secs = started.elapsed().as_secs_f64();
        println!("| {name:<8} | {pass:<15} | {written:>9} | {secs:>8.2} s | {:>9.0} facts/s |", written as f64 / secs);
    }
    let stored = store.count_facts(Granularity::Daily).await?;
    anyhow::ensure!(stored == facts.len() as u64, "{name}: stored {stored} of {} facts", facts.len());
    Ok(())
}

async fn postgres(facts: &[CostFact], range: &DateRange) -> Result<()> {
    let scratch = ScratchDb::create("costbot_bench").await?;
    let result = async {
        let store = PgStore::connect(&scratch.url, 4).await?;
        store.migrate().await?;
        measure("postgres", std::sync::Arc::new(store.clone()), facts, range).await?;
        store.pool().close().await;
        anyhow::Ok(())
    }
    .await;
    scratch.drop().await?;
    result
}

async fn sqlite(facts: &[CostFact], range: &DateRange) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("bench.sqlite")).await?;
    measure("sqlite", std::sync::Arc::new(store), facts, range).await
}

#[tokio::main]
async fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    // 250 days x 100 accounts x 40 services = 1,000,000 facts.
    let days = if full { 250 } else { 3 };
    let (facts, range) = facts(days);
    println!("ingest of {} cost facts through Store::replace_cost_facts (one transaction)", facts.len());
    println!("| store    | pass            |     facts |     time |        rate       |");
    println!("|----------|-----------------|-----------|----------|-------------------|");
    sqlite(&facts, &range).await?;
    postgres(&facts, &range).await?;
    Ok(())
}
