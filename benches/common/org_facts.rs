//! What the organisation-scale benchmarks share with `#[path]` (they also include
//! `scratch_db.rs`): a synthetic organisation's daily cost facts (`accounts` × `services`
//! series with a base of $10–$1,000 a day, a weekly rhythm and ±5 % deterministic noise, so
//! the detector sees realistic, quiet history), a migrated Postgres store on a scratch
//! database, and sizes from the environment.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use chrono::{Days, NaiveDate};
use costbot::domain::{Account, AccountId, CostFact, Granularity, Money, ServiceName};
use costbot::store::{PgStore, SchemaStore};

use crate::scratch_db::ScratchDb;

/// A size from the environment variable `name`, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `measure` on a migrated store over a scratch database `<prefix>_<pid>`, and drops the
/// database whatever `measure` returns.
pub async fn on_scratch_store<F, Fut>(prefix: &str, measure: F) -> Result<()>
where
    F: FnOnce(Arc<PgStore>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let scratch = ScratchDb::create(prefix).await?;
    let result = async {
        let store = PgStore::connect(&scratch.url, 4).await?;
        store.migrate().await?;
        let outcome = measure(Arc::new(store.clone())).await;
        store.pool().close().await;
        outcome
    }
    .await;
    scratch.drop().await?;
    result
}

/// The organisation's shape.
pub struct Org {
    /// Accounts, each with every service.
    pub accounts: usize,
    /// Services per account.
    pub services: usize,
}

impl Org {
    /// The accounts, named `acct-N`, with ids from 600000000000 up.
    pub fn accounts(&self) -> Vec<Account> {
        (0..self.accounts)
            .map(|i| Account {
                id: AccountId::parse(&format!("{:012}", 600_000_000_000u64 + i as u64)).unwrap(),
                name: Some(format!("acct-{i}")),
                configured: true,
            })
            .collect()
    }

    /// The services, `Service 00` up.
    pub fn services(&self) -> Vec<ServiceName> {
        (0..self.services).map(|i| ServiceName::parse(&format!("Service {i:02}")).unwrap()).collect()
    }

    /// The series' facts for `days` days from `first`, the `d`-th day of series `s` (numbered
    /// account-major) multiplied by `factor(s, d)`.
    pub fn facts(
        &self,
        first: NaiveDate,
        days: std::ops::Range<u64>,
        factor: impl Fn(usize, u64) -> i128,
    ) -> Vec<CostFact> {
        let (accounts, services) = (self.accounts(), self.services());
        let mut out = Vec::with_capacity(self.accounts * self.services * (days.end - days.start) as usize);
        for d in days {
            let day = first + Days::new(d);
            for (a, account) in accounts.iter().enumerate() {
                for (s, service) in services.iter().enumerate() {
                    let series = a * self.services + s;
                    let n = series as i128;
                    let base = 10 + (n * 7_919) % 990;
                    let weekly = if (d + series as u64) % 7 < 5 { 100 } else { 80 };
                    let noise = 95 + (d as i128 * 31 + n * 17) % 11;
                    // Dollars are base × weekly/100 × noise/100 × factor; Money counts 10⁻¹⁰ dollars.
                    let scaled = base * weekly * noise * factor(series, d);
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
        out
    }
}
