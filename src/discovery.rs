//! The waste discovery job: list every resource in every (account, region), store the
//! inventory, and apply the waste rules and safety policy to what this run saw.
//!
//! The scheduler runs it (on `[waste] schedule`); it does not post anything itself. The caller
//! turns the returned findings into proposals.

use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDateTime;
use futures::stream::{self, StreamExt};

use crate::config::Config;
use crate::domain::resource::{CloudInventory, WasteFinding};
use crate::domain::waste::{self, PolicyConfig, RulesConfig};
use crate::domain::AccountId;
use crate::store::InventoryStore;

/// The default of `[waste] concurrency`; where it was chosen is written beside it.
pub use crate::config::DEFAULT_DISCOVERY_CONCURRENCY as DEFAULT_CONCURRENCY;

/// One (account, region) whose discovery failed; the others are unaffected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFailure {
    /// The account.
    pub account: AccountId,
    /// The region.
    pub region: String,
    /// The error with its context chain, for logs and for the operator.
    pub error: String,
}

/// What a discovery run did.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryReport {
    /// Targets discovered and stored.
    pub targets_ok: usize,
    /// Resources stored over all successful targets.
    pub resources: u64,
    /// Targets that failed, with why.
    pub failures: Vec<TargetFailure>,
    /// Findings over the resources this run saw (excluded ones included, with their reason).
    pub findings: Vec<WasteFinding>,
    /// The (account, region) pairs discovered successfully: the findings speak for these, so
    /// only their proposals may be withdrawn when their waste is gone.
    pub covered: Vec<(AccountId, String)>,
}

/// The discovery job.
pub struct Discovery {
    /// Where the inventory is kept.
    pub store: Arc<dyn InventoryStore>,
    /// The cloud (AWS or the simulation).
    pub inventory: Arc<dyn CloudInventory>,
    /// Every (account, region) to search.
    pub targets: Vec<(AccountId, String)>,
    /// Targets searched at once (at least 1).
    pub concurrency: usize,
    /// The waste rules, with the activity window filled in.
    pub rules: RulesConfig,
    /// The safety policy.
    pub policy: PolicyConfig,
}

impl Discovery {
    /// The job as `[waste]` configures it: its accounts (or every configured one) times its
    /// regions. Validates `[waste]` first, so a bad section fails at start-up.
    pub fn from_config(
        config: &Config,
        store: Arc<dyn InventoryStore>,
        inventory: Arc<dyn CloudInventory>,
    ) -> Result<Discovery> {
        let configured: Vec<AccountId> = config.accounts.iter().map(|a| a.id.clone()).collect();
        config.waste.validate(&configured)?;
        Ok(Discovery {
            store,
            inventory,
            targets: targets(&config.waste.target_accounts(&configured), &config.waste.regions),
            concurrency: config.waste.concurrency,
            rules: config.waste.rules(),
            policy: config.waste.policy.clone(),
        })
    }

    /// Discovers every target (at most `concurrency` at once), stores each one's inventory,
    /// and returns the findings over the resources seen in this run. A failing target is
    /// reported and its stored inventory left as it was (not marked gone, and not used for
    /// findings, since it may be stale). Fails only when the store itself fails.
    pub async fn run(&self, now: NaiveDateTime) -> Result<DiscoveryReport> {
        // Postgres keeps microseconds; "seen in this run" compares stored times with `now`, so
        // `now` must be what the store will read back.
        let now = chrono::SubsecRound::trunc_subsecs(now, 6);
        let outcomes: Vec<_> = stream::iter(self.targets.iter().cloned())
            .map(|(account, region)| async move {
                let found = self.inventory.discover(&account, &region).await;
                (account, region, found)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut report = DiscoveryReport {
            targets_ok: 0,
            resources: 0,
            failures: Vec::new(),
            findings: Vec::new(),
            covered: Vec::new(),
        };
        for (account, region, found) in outcomes {
            match found {
                Ok(resources) => {
                    report.resources += self.store.replace_inventory(&account, &region, &resources, now).await?;
                    report.targets_ok += 1;
                    report.covered.push((account, region));
                }
                Err(error) => {
                    tracing::warn!(%account, %region, error = format!("{error:#}"), "waste discovery failed for one target");
                    report.failures.push(TargetFailure { account, region, error: format!("{error:#}") });
                }
            }
        }
        report.failures.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        // Only what this run saw: rows of failed or no-longer-configured targets may be stale.
        let seen: Vec<_> = self
            .store
            .inventory(false)
            .await?
            .into_iter()
            .filter(|(_, _, last)| *last == now)
            .map(|(r, _, _)| r)
            .collect();
        report.findings = waste::findings(&seen, &self.rules, &self.policy, now);
        Ok(report)
    }
}

/// Every account in every region.
pub fn targets(accounts: &[AccountId], regions: &[String]) -> Vec<(AccountId, String)> {
    accounts.iter().flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone()))).collect()
}
