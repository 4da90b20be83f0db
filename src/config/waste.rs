//! `[waste]`: resource discovery, the waste rules, the safety policy and price overrides.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::SecretRef;
use crate::domain::prices::{PriceOverrides, PriceTable};
use crate::domain::waste::{PolicyConfig, RulesConfig};
use crate::domain::{AccountId, RoleArn};

/// `[waste] accounts`: a list of account ids (empty: every account in `[[accounts]]`), or
/// `"organization"`: every ACTIVE member account AWS Organizations lists.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum WasteAccounts {
    /// These accounts (each must be in `[[accounts]]`), or every configured one when empty.
    Listed(Vec<AccountId>),
    /// The whole organisation.
    Organization(OrganizationWord),
}

/// The one word `[waste] accounts` takes instead of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrganizationWord {
    /// `"organization"`.
    Organization,
}

impl Default for WasteAccounts {
    fn default() -> Self {
        WasteAccounts::Listed(Vec::new())
    }
}

/// The placeholder for the member account id in `[waste.organization] role_arn`.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// `[waste.organization]`: how costbot reaches member accounts it found through AWS
/// Organizations (accounts also in `[[accounts]]` keep the credentials given there).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrganizationConfig {
    /// The role to assume in each member, with `{account}` for its id; the default is the
    /// member-account template's role, `arn:aws:iam::{account}:role/costbot-read`.
    pub role_arn: String,
    /// The ExternalId every member's role requires.
    pub external_id: Option<SecretRef>,
}

impl Default for OrganizationConfig {
    fn default() -> Self {
        OrganizationConfig {
            role_arn: format!("arn:aws:iam::{ACCOUNT_PLACEHOLDER}:role/costbot-read"),
            external_id: None,
        }
    }
}

impl OrganizationConfig {
    /// The role to assume in one member account.
    pub fn role_for(&self, account: &AccountId) -> Result<RoleArn> {
        let text = self.role_arn.replace(ACCOUNT_PLACEHOLDER, account.as_str());
        RoleArn::parse(&text).map_err(|e| anyhow::anyhow!("waste.organization.role_arn: {e}"))
    }
}

/// How many (account, region) pairs are discovered at once unless `[waste] concurrency`
/// says otherwise. AWS's rate limits are per account and region and discovery makes one
/// request per action in each, so they do not bound this; latency does. Chosen on
/// benches/discovery_scale.rs (1,000 accounts × 16 regions, 50 ms answers): 4 took about 12
/// minutes, over the 10-minute target, and 32 took 2.8 minutes (5.3 with every first request
/// throttled) on two shared cores. Fewer targets than this simply all run at once.
pub const DEFAULT_DISCOVERY_CONCURRENCY: usize = 32;

/// The most (account, region) pairs `[waste] concurrency` may ask for at once. Each pair
/// holds up to four requests in flight, so 256 pairs is about a thousand connections to AWS
/// from one process: a bound on what a typo can open, not a tuned figure (the default, 32,
/// is; see [`DEFAULT_DISCOVERY_CONCURRENCY`]).
pub const MAX_CONCURRENCY: usize = 256;

/// Waste discovery settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WasteConfig {
    /// Run discovery on its schedule.
    pub enabled: bool,
    /// Regions searched in every account.
    pub regions: Vec<String>,
    /// Accounts searched: a list (empty means every configured account) or `"organization"`.
    pub accounts: WasteAccounts,
    /// How member accounts are reached when `accounts = "organization"`.
    pub organization: OrganizationConfig,
    /// The activity window (CloudWatch) and the idle rules' window, in days (1 to 60: hourly
    /// datapoints over 60 days, 1,440 per series, keep GetMetricData answers to a few pages).
    pub idle_days: u32,
    /// Cron expression with a seconds field; the default runs daily at 06:30 UTC.
    pub schedule: String,
    /// (account, region) pairs discovered at once (1 to [`MAX_CONCURRENCY`]). AWS throttles
    /// each account and region on its own, and discovery makes a handful of requests per
    /// pair, so more pairs at once do not bring one account closer to its limits.
    pub concurrency: usize,
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
            accounts: WasteAccounts::default(),
            organization: OrganizationConfig::default(),
            idle_days: 14,
            schedule: "0 30 6 * * *".to_string(),
            concurrency: DEFAULT_DISCOVERY_CONCURRENCY,
            rules: RulesConfig::default(),
            policy: PolicyConfig::default(),
            prices: PriceOverrides::default(),
        }
    }
}

impl WasteConfig {
    /// The rules with the activity window filled in from `idle_days` and the price table
    /// from `[waste.prices]`.
    pub fn rules(&self) -> RulesConfig {
        RulesConfig { idle_days: self.idle_days, prices: self.price_table(), ..self.rules.clone() }
    }

    /// The bundled price table with `[waste.prices]` applied.
    pub fn price_table(&self) -> PriceTable {
        PriceTable::with_overrides(&self.prices)
    }

    /// True when the accounts searched come from AWS Organizations.
    pub fn organization(&self) -> bool {
        matches!(self.accounts, WasteAccounts::Organization(_))
    }

    /// The accounts to search: the listed ones, or every configured one. With
    /// `"organization"` these are only the configured ones; the AWS inventory lists the
    /// members (`AwsInventory::accounts`), and its callers search those.
    pub fn target_accounts(&self, configured: &[AccountId]) -> Vec<AccountId> {
        match &self.accounts {
            WasteAccounts::Listed(listed) if !listed.is_empty() => listed.clone(),
            _ => configured.to_vec(),
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
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            bail!("waste.concurrency must be between 1 and {MAX_CONCURRENCY}");
        }
        match &self.accounts {
            WasteAccounts::Listed(listed) => {
                if let Some(unknown) = listed.iter().find(|a| !configured.contains(a)) {
                    bail!("waste.accounts: account {unknown} is not in [[accounts]]");
                }
            }
            WasteAccounts::Organization(_) => {
                if !self.organization.role_arn.contains(ACCOUNT_PLACEHOLDER) {
                    bail!("waste.organization.role_arn must contain {ACCOUNT_PLACEHOLDER} for the member account id");
                }
                self.organization.role_for(&AccountId::parse("000000000000")?)?;
            }
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
        let other = WasteConfig {
            accounts: WasteAccounts::Listed(vec![AccountId::parse("999999999999").unwrap()]),
            ..WasteConfig::default()
        };
        assert!(bad(other).contains("999999999999"));
        assert!(bad(WasteConfig { schedule: "daily".into(), ..WasteConfig::default() }).contains("waste.schedule"));
        assert!(Config::from_toml("[waste]\nregion = \"us-east-1\"\n").unwrap_err().to_string().contains("region"));
    }

    #[test]
    fn concurrency_has_a_default_and_is_bounded() {
        let base = "[[accounts]]\nid = \"123456789012\"\n[waste]\nregions = [\"us-east-1\"]\n";
        let ids = [AccountId::parse("123456789012").unwrap()];
        let config = Config::from_toml(base).unwrap();
        assert_eq!(config.waste.concurrency, DEFAULT_DISCOVERY_CONCURRENCY);
        let config = Config::from_toml(&format!("{base}concurrency = 64\n")).unwrap();
        assert_eq!(config.waste.concurrency, 64);
        assert!(config.waste.validate(&ids).is_ok());
        for bad in [0, MAX_CONCURRENCY + 1] {
            let waste = WasteConfig { concurrency: bad, ..WasteConfig::default() };
            assert!(waste.validate(&ids).unwrap_err().to_string().contains("waste.concurrency"), "{bad}");
        }
        assert!(Config::from_toml(&format!("{base}concurrency = -1\n")).is_err());
    }

    #[test]
    fn accounts_may_be_the_organization_reached_through_a_role_template() {
        let base = "[[accounts]]\nid = \"123456789012\"\ncost_explorer = true\n";
        let config = Config::from_toml(&format!(
            "{base}[waste]\naccounts = \"organization\"\n[waste.organization]\nrole_arn = \"arn:aws:iam::{{account}}:role/finops\"\nexternal_id = {{ env = \"X\" }}\n"
        ))
        .unwrap();
        assert!(config.waste.organization());
        let member = AccountId::parse("210987654321").unwrap();
        assert_eq!(
            config.waste.organization.role_for(&member).unwrap().as_str(),
            "arn:aws:iam::210987654321:role/finops"
        );
        let no_placeholder = format!(
            "{base}[waste]\naccounts = \"organization\"\n[waste.organization]\nrole_arn = \"arn:aws:iam::123456789012:role/x\"\n"
        );
        assert!(Config::from_toml(&no_placeholder).unwrap_err().to_string().contains("{account}"));
        assert!(Config::from_toml(&format!("{base}[waste]\naccounts = \"everyone\"\n")).is_err());
    }

    #[test]
    fn a_waste_only_configuration_needs_no_cost_explorer_account() {
        let base = "[[accounts]]\nid = \"123456789012\"\n";
        let err = Config::from_toml(base).unwrap_err().to_string();
        assert!(err.contains("nothing to collect from") && err.contains("[waste]"), "{err}");
        let config = Config::from_toml(&format!("{base}[waste]\nregions = [\"eu-west-1\"]\n")).unwrap();
        assert!(config.waste_configured && !config.collects_costs());
        assert!(config.summary().contains("waste control only (no cost collection)"), "{}", config.summary());
        let off = Config::from_toml(&format!("{base}[waste]\nenabled = false\n")).unwrap_err();
        assert!(off.to_string().contains("nothing to collect from"), "waste off and no cost source: {off}");
        let both = Config::from_toml("[[accounts]]\nid = \"123456789012\"\ncost_explorer = true\n").unwrap();
        assert!(both.collects_costs() && !both.waste_configured);
    }
}
