//! `[waste]`: resource discovery, the waste rules, the safety policy and price overrides.

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::domain::prices::{PriceOverrides, PriceTable};
use crate::domain::waste::{PolicyConfig, RulesConfig};
use crate::domain::AccountId;

/// Waste discovery settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WasteConfig {
    /// Run discovery on its schedule.
    pub enabled: bool,
    /// Regions searched in every account.
    pub regions: Vec<String>,
    /// Accounts searched; empty means every configured account.
    pub accounts: Vec<AccountId>,
    /// The activity window (CloudWatch) and the idle rules' window, in days (1 to 60: hourly
    /// datapoints over 60 days are the most one GetMetricStatistics call returns).
    pub idle_days: u32,
    /// Cron expression with a seconds field; the default runs daily at 06:30 UTC.
    pub schedule: String,
    /// Rule thresholds, `[waste.rules]`.
    pub rules: RulesConfig,
    /// The safety policy, `[waste.policy]`.
    pub policy: PolicyConfig,
    /// Price overrides, `[waste.prices]`.
    pub prices: PriceOverrides,
}

impl Default for WasteConfig {
    fn default() -> Self {
        WasteConfig {
            enabled: true,
            regions: vec!["us-east-1".to_string()],
            accounts: Vec::new(),
            idle_days: 14,
            schedule: "0 30 6 * * *".to_string(),
            rules: RulesConfig::default(),
            policy: PolicyConfig::default(),
            prices: PriceOverrides::default(),
        }
    }
}

impl WasteConfig {
    /// The rules with the activity window filled in from `idle_days`.
    pub fn rules(&self) -> RulesConfig {
        RulesConfig { idle_days: self.idle_days, ..self.rules.clone() }
    }

    /// The bundled price table with `[waste.prices]` applied.
    pub fn price_table(&self) -> PriceTable {
        PriceTable::with_overrides(&self.prices)
    }

    /// The accounts to search: the listed ones, or every configured one.
    pub fn target_accounts(&self, configured: &[AccountId]) -> Vec<AccountId> {
        if self.accounts.is_empty() {
            configured.to_vec()
        } else {
            self.accounts.clone()
        }
    }

    /// Checks what serde cannot. `configured` are the ids in `[[accounts]]`: a listed account
    /// must be one of them, since its credentials come from there.
    pub fn validate(&self, configured: &[AccountId]) -> Result<()> {
        if self.regions.is_empty() || self.regions.iter().any(|r| r.trim().is_empty()) {
            bail!("waste.regions must list at least one region");
        }
        if !(1..=60).contains(&self.idle_days) {
            bail!("waste.idle_days must be between 1 and 60");
        }
        if let Some(unknown) = self.accounts.iter().find(|a| !configured.contains(a)) {
            bail!("waste.accounts: account {unknown} is not in [[accounts]]");
        }
        super::parse_cron(&self.schedule).map_err(|e| anyhow::anyhow!("waste.schedule: {e:#}"))?;
        self.rules.validate().map_err(|e| anyhow::anyhow!("waste.rules: {e}"))?;
        self.policy.validate().map_err(|e| anyhow::anyhow!("waste.policy: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_section_mounts_with_defaults_and_overrides() {
        let toml = "[[accounts]]\nid = \"123456789012\"\ncost_explorer = true\n\
                    [waste]\nregions = [\"us-east-1\", \"eu-west-1\"]\nidle_days = 30\n\
                    [waste.rules]\nstopped_instance_days = 21\n\
                    [waste.policy]\nprotected_tags = [\"Team=Core\"]\n\
                    [waste.prices]\nec2 = { \"m5.large\" = \"0.1\" }\n";
        let config = Config::from_toml(toml).unwrap();
        let waste = &config.waste;
        assert_eq!(waste.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!((waste.rules().idle_days, waste.rules().stopped_instance_days), (30, 21));
        assert_eq!(waste.price_table().ec2_monthly("m5.large"), crate::domain::Money::parse("73").ok());
        let ids = [AccountId::parse("123456789012").unwrap()];
        assert_eq!(waste.target_accounts(&ids), ids);
        assert!(waste.validate(&ids).is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        let ids = [AccountId::parse("123456789012").unwrap()];
        let bad = |w: WasteConfig| w.validate(&ids).unwrap_err().to_string();
        assert!(bad(WasteConfig { idle_days: 90, ..WasteConfig::default() }).contains("idle_days"));
        assert!(bad(WasteConfig { regions: vec![], ..WasteConfig::default() }).contains("regions"));
        let other = WasteConfig { accounts: vec![AccountId::parse("999999999999").unwrap()], ..WasteConfig::default() };
        assert!(bad(other).contains("999999999999"));
        assert!(bad(WasteConfig { schedule: "daily".into(), ..WasteConfig::default() }).contains("waste.schedule"));
        assert!(Config::from_toml("[waste]\nregion = \"us-east-1\"\n").unwrap_err().to_string().contains("region"));
    }
}
