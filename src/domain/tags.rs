//! Cost allocation tags and cost categories (pure): which key spend is grouped by, the
//! spend of one account under one value of it, and what a channel scoped to tag values may see.
//!
//! Cost Explorer answers a `TAG` or `COST_CATEGORY` group-by with keys like `team$payments`,
//! and `team$` for spend that carries no such tag. Untagged spend is kept as its own value
//! (the empty string) rather than dropped, so a key's values always add up to the facts'
//! total and answers can say how much of it nobody owns.

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{AccountId, Granularity, Money};

/// Whether a key is a cost allocation tag or a cost category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagKind {
    /// A cost allocation tag (`team`, `env`).
    Tag,
    /// A cost category (`BusinessUnit`).
    Category,
}

impl TagKind {
    /// The stored name, also the prefix people type (`tag:team`, `category:BusinessUnit`).
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::Tag => "tag",
            TagKind::Category => "category",
        }
    }

    /// Cost Explorer's group definition type.
    pub fn cost_explorer_type(self) -> &'static str {
        match self {
            TagKind::Tag => "TAG",
            TagKind::Category => "COST_CATEGORY",
        }
    }
}

/// A tag key or a cost category name, as configured (`[costs] tag_keys`, `cost_categories`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TagKey {
    /// Tag or category.
    pub kind: TagKind,
    /// The key as AWS spells it (tag keys are case-sensitive).
    pub name: String,
}

impl TagKey {
    /// A cost allocation tag key.
    pub fn tag(name: &str) -> TagKey {
        TagKey { kind: TagKind::Tag, name: name.to_string() }
    }

    /// A cost category.
    pub fn category(name: &str) -> TagKey {
        TagKey { kind: TagKind::Category, name: name.to_string() }
    }

    /// What answers call spend without a value: "no team tag", "no BusinessUnit category".
    pub fn untagged_label(&self) -> String {
        format!("no {} {}", self.name, self.kind.as_str())
    }

    /// The value as answers show it: the value itself, or the untagged label for `""`.
    pub fn value_label(&self, value: &str) -> String {
        if value.is_empty() {
            format!("({})", self.untagged_label())
        } else {
            value.to_string()
        }
    }
}

impl fmt::Display for TagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

/// What one account spent in one period under one value of a tag key or cost category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagFact {
    /// Day or hour.
    pub granularity: Granularity,
    /// Start of the period, UTC.
    pub period_start: NaiveDateTime,
    /// The account.
    pub account: AccountId,
    /// The tag key or category.
    pub key: TagKey,
    /// The value; empty for spend without the tag (or outside every category rule).
    pub value: String,
    /// The exact amount.
    pub amount: Money,
    /// Cost Explorer marks recent periods as estimated.
    pub estimated: bool,
}

/// Why a Cost Explorer group key could not be read as `key$value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cost Explorer returned the group key `{got}`, expected `{key}$<value>`")]
pub struct BadGroupKey {
    /// The key that was asked for.
    pub key: String,
    /// What came back.
    pub got: String,
}

/// The value in a Cost Explorer tag or category group key: `team$payments` → `payments`,
/// `team$` → `""` (untagged). The key must be the one asked for, so a mixed-up answer is an
/// error rather than spend booked under the wrong team.
pub fn group_value(key: &TagKey, raw: &str) -> Result<String, BadGroupKey> {
    let bad = || BadGroupKey { key: key.name.clone(), got: raw.chars().take(80).collect() };
    let (name, value) = raw.split_once('$').ok_or_else(bad)?;
    if name != key.name {
        return Err(bad());
    }
    Ok(value.to_string())
}

/// The tag values a channel may see (`[[channels]] tags = { team = ["payments"] }`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagScope {
    /// The tag key.
    pub key: TagKey,
    /// The values; spend under any other value (untagged included) is never shown.
    pub values: Vec<String>,
}

impl TagScope {
    /// True when the scope allows this key and value.
    pub fn allows(&self, key: &TagKey, value: &str) -> bool {
        &self.key == key && self.values.iter().any(|v| v == value)
    }

    /// "team = payments, search", for the line under an answer's title.
    pub fn describe(&self) -> String {
        format!("{} = {}", self.key.name, self.values.join(", "))
    }
}

/// The share of `part` in `whole` in whole percent, rounded half up (`None` when the whole is
/// zero or negative, where a share means nothing).
pub fn share_percent(part: Money, whole: Money) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    let (part, whole) = (part.as_decimal(), whole.as_decimal());
    if whole <= rust_decimal::Decimal::ZERO {
        return None;
    }
    let percent = (part * rust_decimal::Decimal::from(100) / whole)
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    percent.to_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_split_into_values_and_untagged_stays_its_own_value() {
        let team = TagKey::tag("team");
        assert_eq!(group_value(&team, "team$payments").unwrap(), "payments");
        assert_eq!(group_value(&team, "team$").unwrap(), "");
        assert_eq!(group_value(&team, "team$a$b").unwrap(), "a$b");
        assert!(group_value(&team, "env$prod").is_err());
        assert!(group_value(&team, "payments").is_err());
        let unit = TagKey::category("BusinessUnit");
        assert_eq!(group_value(&unit, "BusinessUnit$Retail").unwrap(), "Retail");
    }

    #[test]
    fn labels_name_the_missing_tag() {
        let team = TagKey::tag("team");
        assert_eq!(team.value_label(""), "(no team tag)");
        assert_eq!(team.value_label("payments"), "payments");
        assert_eq!(TagKey::category("BusinessUnit").untagged_label(), "no BusinessUnit category");
        assert_eq!(team.to_string(), "tag:team");
    }

    #[test]
    fn shares_round_half_up_and_need_a_positive_whole() {
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(share_percent(m("12"), m("100")), Some(12));
        assert_eq!(share_percent(m("1"), m("8")), Some(13));
        assert_eq!(share_percent(m("1"), m("0")), None);
    }

    #[test]
    fn a_scope_allows_only_its_key_and_values() {
        let scope = TagScope { key: TagKey::tag("team"), values: vec!["payments".into()] };
        assert!(scope.allows(&TagKey::tag("team"), "payments"));
        assert!(!scope.allows(&TagKey::tag("team"), "search"));
        assert!(!scope.allows(&TagKey::tag("team"), ""));
        assert!(!scope.allows(&TagKey::category("team"), "payments"));
    }
}
