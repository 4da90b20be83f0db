//! `[[budgets]]`: a monthly amount for a scope of spend, the thresholds that alert, and the
//! channels the alerts go to.
//!
//! The scope is written in `/cost`'s own filter terms (`scope = "account=payments
//! service=ec2"`); the bot's grammar parses it when costbot starts (`budgets::check`), since
//! configuration may not depend on the grammar. Everything else is checked here.

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{ChannelConfig, ExactDecimal};
use crate::domain::budget::{check_amount, check_thresholds, BudgetName};
use crate::domain::Money;

/// One budget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// What people call it in `/cost budget NAME`; lowercase letters, digits, `-`, `_`.
    pub name: BudgetName,
    /// Which spend counts, as `/cost` filters (`account=payments service=ec2`); empty: all.
    #[serde(default)]
    pub scope: String,
    /// The monthly amount in dollars, exact (`12000`, `"12000.50"`). An approver's
    /// `/cost budget set` replaces it until changed again.
    pub amount: ExactDecimal,
    /// Per cents of the amount that alert once a month each; default 50, 80 and 100.
    #[serde(default)]
    pub thresholds: Vec<u32>,
    /// Channel ids (or names) from `[[channels]]` that get this budget's alerts.
    #[serde(default)]
    pub channels: Vec<String>,
}

impl BudgetConfig {
    /// The configured monthly amount.
    pub fn amount(&self) -> Money {
        Money::from_decimal(self.amount.0)
    }

    /// The thresholds, ascending (the defaults when none are configured). Checked at load, so
    /// a bad list only reaches here through a configuration built without `validate`; then
    /// the defaults apply.
    pub fn thresholds(&self) -> Vec<u32> {
        check_thresholds(&self.thresholds).unwrap_or_else(|_| crate::domain::budget::DEFAULT_THRESHOLDS.to_vec())
    }

    /// The configured channels this budget alerts in.
    pub fn alert_channels<'a>(&'a self, channels: &'a [ChannelConfig]) -> impl Iterator<Item = &'a ChannelConfig> {
        channels.iter().filter(|c| self.channels.iter().any(|n| names_channel(c, n)))
    }
}

fn names_channel(channel: &ChannelConfig, name: &str) -> bool {
    channel.id == name || channel.name.as_deref() == Some(name)
}

/// Names are unique, amounts positive and exact, thresholds sane, channels configured.
pub(super) fn validate(budgets: &[BudgetConfig], channels: &[ChannelConfig]) -> Result<()> {
    let mut names = HashSet::new();
    for budget in budgets {
        let what = || format!("[[budgets]] {}", budget.name);
        if !names.insert(&budget.name) {
            bail!("{}: the name is used twice", what());
        }
        let amount = Money::parse(&budget.amount.0.to_string()).with_context(what)?;
        check_amount(amount).with_context(what)?;
        check_thresholds(&budget.thresholds).with_context(what)?;
        for name in &budget.channels {
            if !channels.iter().any(|c| names_channel(c, name)) {
                bail!("{}: channel `{name}` is not in [[channels]]", what());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const CHANNEL: &str = "[[channels]]\nplatform = \"slack\"\nid = \"C1\"\nname = \"finops\"\n";

    #[test]
    fn a_budget_reads_with_defaults() {
        let config = Config::from_toml(&format!(
            "{CHANNEL}[[budgets]]\nname = \"Payments\"\namount = \"12000.50\"\nchannels = [\"finops\"]\n"
        ))
        .unwrap();
        let budget = &config.budgets[0];
        assert_eq!(budget.name.as_str(), "payments");
        assert_eq!(budget.amount().to_string(), "$12,000.50");
        assert_eq!(budget.thresholds(), vec![50, 80, 100]);
        assert_eq!(budget.alert_channels(&config.channels).count(), 1);
    }

    #[test]
    fn bad_budgets_are_refused_with_their_name() {
        for (toml, expected) in [
            ("name = \"a b\"\namount = 1\n", "not a budget name"),
            ("name = \"p\"\namount = 0\n", "more than $0"),
            ("name = \"p\"\namount = -3\n", "more than $0"),
            ("name = \"p\"\namount = \"lots\"\n", "not a decimal number"),
            ("name = \"p\"\namount = 1\nthresholds = [80, 80]\n", "each once"),
            ("name = \"p\"\namount = 1\nchannels = [\"C9\"]\n", "channel `C9` is not in [[channels]]"),
            ("name = \"p\"\namount = 1\nlimit = 3\n", "limit"),
            ("name = \"p\"\namount = 1\n[[budgets]]\nname = \"P\"\namount = 2\n", "used twice"),
        ] {
            let error = Config::from_toml(&format!("{CHANNEL}[[budgets]]\n{toml}")).unwrap_err();
            assert!(format!("{error:#}").contains(expected), "{toml}: {error:#}");
        }
    }
}
