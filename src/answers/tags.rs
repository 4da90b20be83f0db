//! Answers over spend by tag: which key and values a question selects once the channel's tag
//! scope is applied, what cannot be combined with it, and how much of a key's spend is
//! untagged.
//!
//! Tag spend is collected per account and value (LINKED_ACCOUNT × the key), so a question
//! that selects a tag can be totalled, broken down by account or by the key's values, and
//! narrowed to accounts; never by service, region or usage type, and never by two keys at
//! once, because those figures do not exist exactly. Such a question gets a reply that says
//! so rather than a figure that leaks or guesses.

use crate::commands::{Filters, GroupBy, Report};
use crate::domain::tags::{share_percent, TagKey, TagScope};
use crate::domain::{AccountId, Money};
use crate::store::{SpendQuery, SpendRow, TagGroup, TagQuery};

use super::AnswerError;

/// What a channel may see: some accounts (`None`: all) and, if scoped, some tag values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AnswerScope {
    /// Only these accounts; `None` means every account.
    pub accounts: Option<Vec<AccountId>>,
    /// Only spend under these tag values; `None` means no tag scope.
    pub tags: Option<TagScope>,
}

impl AnswerScope {
    /// A scope of accounts only (the channel's `accounts`).
    pub fn accounts(accounts: Option<&[AccountId]>) -> AnswerScope {
        AnswerScope { accounts: accounts.map(<[AccountId]>::to_vec), tags: None }
    }
}

/// The key and values a question reads from the tag table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TagSelect {
    /// The key.
    pub key: TagKey,
    /// Only these values; `None` means every value, untagged included.
    pub values: Option<Vec<String>>,
}

impl TagSelect {
    /// The store query for this selection over a spend query's period and accounts.
    pub fn query(&self, spend: &SpendQuery) -> TagQuery {
        TagQuery {
            spend: SpendQuery { services: None, ..spend.clone() },
            key: self.key.clone(),
            values: self.values.clone(),
        }
    }
}

fn user(text: String) -> AnswerError {
    AnswerError::User(text)
}

/// The tag selection of a question in a scope, or `None` when it reads no tag spend. Refuses
/// what tag spend cannot answer exactly, and values outside the scope (with the same reply as
/// a value nobody uses, so a scoped channel learns nothing about other teams).
pub(super) fn select(report: &Report, scope: &AnswerScope) -> Result<Option<TagSelect>, AnswerError> {
    let by_key = match &report.group {
        Some(GroupBy::Tag(key)) => Some(key.clone()),
        _ => None,
    };
    let Some(selected) = selection(&report.filters, scope, by_key.as_ref())? else { return Ok(None) };
    let name = &selected.key.name;
    match &report.group {
        None | Some(GroupBy::Account) => {}
        Some(GroupBy::Tag(key)) if *key == selected.key => {}
        Some(GroupBy::Tag(key)) => {
            return Err(user(format!(
                "Spend by {} and by {name} are collected apart, so they cannot be combined; ask about one at a time.",
                key.name
            )))
        }
        Some(_) => {
            return Err(user(format!(
                "Spend by {name} is collected per account, so it cannot be broken down by service, region or usage type; try `by account` or `by {}`.",
                selected.key
            )))
        }
    }
    if !report.filters.services.is_empty() {
        return Err(user(format!("Spend by {name} is collected per account, so `service=` cannot narrow it.")));
    }
    Ok(Some(selected))
}

/// The selection of filters (and a forecast's) in a scope: the one key they name, with the
/// values both the filters and the scope allow.
pub(super) fn selection(
    filters: &Filters,
    scope: &AnswerScope,
    by_key: Option<&TagKey>,
) -> Result<Option<TagSelect>, AnswerError> {
    let mut keys: Vec<&TagKey> = filters.tags.iter().map(|f| &f.key).chain(by_key).collect();
    keys.extend(scope.tags.as_ref().map(|s| &s.key));
    keys.dedup();
    let Some(key) = keys.first().copied() else { return Ok(None) };
    if keys.iter().any(|k| *k != key) {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let scoped =
            scope.tags.as_ref().map_or(String::new(), |s| format!(" This channel sees {} only.", s.describe()));
        return Err(user(format!(
            "Spend by {} is collected one key at a time, so these cannot be combined.{scoped}",
            names.join(" and ")
        )));
    }
    let typed: Vec<String> = filters.tags.iter().map(|f| f.value.clone()).collect();
    let values = match (&scope.tags, typed.is_empty()) {
        (None, true) => None,
        (None, false) => Some(typed),
        (Some(scope), true) => Some(scope.values.clone()),
        (Some(scope), false) => {
            if let Some(outside) = typed.iter().find(|v| !scope.values.contains(v)) {
                let value: String = outside.chars().take(40).collect();
                return Err(user(format!("No {} `{value}` is available in this channel.", key.name)));
            }
            Some(typed)
        }
    };
    Ok(Some(TagSelect { key: key.clone(), values }))
}

/// How a tag selection is grouped for a report's breakdown.
pub(super) fn tag_group(group: Option<&GroupBy>) -> TagGroup {
    match group {
        Some(GroupBy::Account) => TagGroup::Account,
        Some(GroupBy::Tag(_)) => TagGroup::Value,
        _ => TagGroup::Total,
    }
}

/// "12 % of spend has no team tag": the untagged row's share of a whole-key breakdown (only
/// when every value was read, so the share is of all spend).
pub(super) fn untagged_share(select: &TagSelect, rows: &[SpendRow], total: Money) -> Option<(String, i64)> {
    if select.values.is_some() {
        return None;
    }
    let untagged = rows.iter().find(|r| r.key.is_empty()).map_or(Money::ZERO, |r| r.amount);
    share_percent(untagged, total).map(|percent| (select.key.untagged_label(), percent))
}

/// The filter lines under a tag answer's title: "team = payments".
pub(super) fn said(select: &TagSelect) -> Option<String> {
    let values = select.values.as_ref()?;
    let shown: Vec<String> = values.iter().map(|v| select.key.value_label(v)).collect();
    Some(format!("{} = {}", select.key.name, shown.join(", ")))
}
