//! Tag keys and cost categories (`[costs] tag_keys`, `cost_categories`), tag-scoped channels
//! (`[[channels]] tags`) and per-tag detection (`[anomaly] by_tags`): the rules that tie them
//! together, and what a tag-scoped channel may see.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::{ChannelConfig, Config};
use crate::domain::incident::{Scope, SeriesKey};
use crate::domain::tags::{TagKey, TagScope};
use crate::domain::AccountId;

/// Longest tag key or value AWS allows (keys 128, values 256 characters).
const MAX_VALUE: usize = 256;

impl Config {
    /// Every key spend is collected by: the tag keys, then the cost categories.
    pub fn tag_keys(&self) -> Vec<TagKey> {
        let tags = self.costs.tag_keys.iter().map(|k| TagKey::tag(k));
        tags.chain(self.costs.cost_categories.iter().map(|k| TagKey::category(k))).collect()
    }

    /// The tag keys whose values get their own anomaly series.
    pub fn anomaly_tag_keys(&self) -> Vec<TagKey> {
        self.anomaly.by_tags.iter().map(|k| TagKey::tag(k)).collect()
    }

    /// The `config check` line for tags: the keys and what a run asks Cost Explorer for,
    /// one request per payer and key plus the facts' one (and the usage query's, when
    /// detection scores usage), $0.01 each.
    pub(super) fn tag_summary(&self) -> Option<String> {
        let keys = self.tag_keys();
        if keys.is_empty() {
            return None;
        }
        let payers = self.accounts.iter().filter(|a| a.cost_explorer).count();
        let usage = self.anomaly.enabled && self.anomaly.usage_only;
        let base = 1 + usize::from(usage);
        let requests = payers * (base + keys.len());
        let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let queries = if usage { "facts and usage queries" } else { "facts query" };
        Some(format!(
            "tags: {}; each run makes {payers} payer(s) × ({base} + {}) = {requests} Cost Explorer requests (${}.{:02}) \
             (the {queries} and one per key) before pages and breakdowns",
            names.join(", "),
            keys.len(),
            requests / 100,
            requests % 100
        ))
    }

    pub(super) fn validate_tags(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for key in self.tag_keys() {
            if key.name.trim().is_empty() || key.name.len() > 128 || key.name.contains('$') {
                bail!("costs: `{}` is not a usable {} name (1–128 characters, no `$`)", key.name, key.kind.as_str());
            }
            if !seen.insert(key.clone()) {
                bail!("costs: {} `{}` is listed twice", key.kind.as_str(), key.name);
            }
        }
        for key in &self.anomaly.by_tags {
            if !self.costs.tag_keys.contains(key) {
                bail!("anomaly.by_tags: `{key}` is not in costs.tag_keys, so its spend is never collected");
            }
        }
        for channel in &self.channels {
            validate_channel_tags(&channel.id, &channel.tags, &self.costs.tag_keys)?;
        }
        Ok(())
    }
}

fn validate_channel_tags(id: &str, tags: &BTreeMap<String, Vec<String>>, keys: &[String]) -> Result<()> {
    // Spend is collected per key (account × key), so two keys cannot be intersected exactly.
    if tags.len() > 1 {
        bail!("channel {id}: tags may name one tag key (spend by two keys cannot be combined exactly)");
    }
    for (key, values) in tags {
        if !keys.contains(key) {
            bail!("channel {id}: tag key `{key}` is not in costs.tag_keys, so its spend is never collected");
        }
        if values.is_empty() || values.iter().any(|v| v.trim().is_empty() || v.len() > MAX_VALUE) {
            bail!("channel {id}: tags.{key} needs one or more non-empty values");
        }
    }
    Ok(())
}

impl ChannelConfig {
    /// The tag values this channel is limited to, if any.
    pub fn tag_scope(&self) -> Option<TagScope> {
        let (key, values) = self.tags.iter().next()?;
        Some(TagScope { key: TagKey::tag(key), values: values.clone() })
    }

    /// True when the channel may see spend under this tag value summed over every account (a
    /// per-tag anomaly series): a tag-scoped channel only for its own values, an
    /// account-scoped one never (the sum holds other accounts), an unscoped one always.
    pub fn may_see_tag(&self, key: &TagKey, value: &str) -> bool {
        match self.tag_scope() {
            Some(scope) => self.accounts.is_empty() && scope.allows(key, value),
            None => self.accounts.is_empty(),
        }
    }

    /// True when the channel may see an anomaly on this series.
    pub fn may_see_series(&self, key: &SeriesKey) -> bool {
        match &key.scope {
            Scope::Tag { key, value } => self.may_see_tag(key, value),
            _ => self.may_see(key.account()),
        }
    }

    /// True when the channel may see a resource (a proposal's card, a saving): its account
    /// must be visible, and in a tag-scoped channel the resource must carry one of its values.
    pub fn may_see_resource(&self, account: &AccountId, tags: &BTreeMap<String, String>) -> bool {
        let account_ok = self.accounts.is_empty() || self.accounts.contains(account);
        match self.tag_scope() {
            None => account_ok,
            Some(scope) => account_ok && tags.get(&scope.key.name).is_some_and(|v| scope.values.contains(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Result<Config> {
        Config::from_toml(&format!(
            "[costs]\nsource = \"simulated\"\ntag_keys = [\"team\", \"env\"]\ncost_categories = [\"BusinessUnit\"]\n{extra}"
        ))
    }

    #[test]
    fn keys_come_in_order_and_unknown_or_double_scopes_are_refused() {
        let ok = config("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\ntags = { team = [\"payments\"] }\n").unwrap();
        assert_eq!(ok.tag_keys(), [TagKey::tag("team"), TagKey::tag("env"), TagKey::category("BusinessUnit")]);
        let scope = ok.channels[0].tag_scope().unwrap();
        assert_eq!(scope.describe(), "team = payments");
        let two = config("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\ntags = { team = [\"a\"], env = [\"b\"] }\n");
        assert!(two.unwrap_err().to_string().contains("one tag key"));
        let unknown = config("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\ntags = { owner = [\"a\"] }\n");
        assert!(unknown.unwrap_err().to_string().contains("`owner` is not in costs.tag_keys"));
        let empty = config("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\ntags = { team = [] }\n");
        assert!(empty.is_err());
        let payers = Config::from_toml(
            "[costs]\ntag_keys = [\"team\"]\ncost_categories = [\"BusinessUnit\"]\n\
             [[accounts]]\nid = \"123456789012\"\ncost_explorer = true\n[[accounts]]\nid = \"210987654321\"\ncost_explorer = true\n",
        )
        .unwrap();
        let line = payers.summary();
        assert!(line.contains("tags: tag:team, category:BusinessUnit; each run makes 2 payer(s) × (2 + 2) = 8 Cost Explorer requests ($0.08) (the facts and usage queries and one per key)"), "{line}");
        let by = config("[anomaly]\nby_tags = [\"owner\"]\n");
        assert!(by.unwrap_err().to_string().contains("anomaly.by_tags"));
    }

    #[test]
    fn a_tag_scoped_channel_sees_only_its_values() {
        let c = config("[[channels]]\nplatform = \"slack\"\nid = \"C1\"\ntags = { team = [\"payments\"] }\n").unwrap();
        let channel = &c.channels[0];
        let account = AccountId::parse("123456789012").unwrap();
        assert!(!channel.may_see(Some(&account)));
        assert!(!channel.may_see(None));
        assert!(channel.may_see_tag(&TagKey::tag("team"), "payments"));
        assert!(!channel.may_see_tag(&TagKey::tag("team"), "search"));
        assert!(!channel.may_see_tag(&TagKey::tag("team"), ""));
        let tagged: BTreeMap<String, String> = [("team".to_string(), "payments".to_string())].into();
        assert!(channel.may_see_resource(&account, &tagged));
        assert!(!channel.may_see_resource(&account, &BTreeMap::new()));
    }
}
