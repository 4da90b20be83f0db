//! The tag words of the `/cost` grammar: `by tag:team`, `by category:BusinessUnit`, and the
//! filters `tag:env=prod`, `category:BusinessUnit=Retail` and `team=payments` (a configured
//! tag key used as a filter key). Pure, like the rest of the grammar: the configured keys
//! come in as a [`Vocabulary`].

use super::{missing, unknown, GroupBy, ParseError};
use crate::domain::tags::{TagKey, TagKind};

/// What the grammar knows beyond its fixed words: the configured tag keys and cost
/// categories (`[costs] tag_keys`, `cost_categories`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// Keys spend is collected by. Empty: `tag:` and `category:` are taken as typed and a
    /// bare `team=` is an unknown word.
    pub tag_keys: Vec<TagKey>,
}

/// One `key=value` narrowing by a tag key or cost category.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagFilter {
    /// The key, spelled as configured.
    pub key: TagKey,
    /// The value, as typed (tag values are case-sensitive).
    pub value: String,
}

/// `tag:team` or `category:BusinessUnit` (the prefix in any case), or `None` for other words.
fn prefixed(raw: &str) -> Option<TagKey> {
    let (prefix, name) = raw.split_once(':')?;
    let kind = match prefix.to_lowercase().as_str() {
        "tag" => TagKind::Tag,
        "category" | "cost-category" | "costcategory" => TagKind::Category,
        _ => return None,
    };
    Some(TagKey { kind, name: name.to_string() })
}

impl Vocabulary {
    /// A typed key checked against the configured ones (case-insensitively, answered in the
    /// configured spelling). Without configured keys it is taken as typed.
    fn resolve(&self, key: TagKey) -> Result<TagKey, ParseError> {
        if key.name.is_empty() {
            return Err(missing(&format!("{}:", key.kind.as_str()), "a tag key, e.g. `tag:team`"));
        }
        if self.tag_keys.is_empty() {
            return Ok(key);
        }
        let found = self.tag_keys.iter().find(|k| k.kind == key.kind && k.name.eq_ignore_ascii_case(&key.name));
        found.cloned().ok_or_else(|| ParseError::Conflict(self.not_collected(&key)))
    }

    fn not_collected(&self, key: &TagKey) -> String {
        let name: String = key.name.chars().take(40).collect();
        let known: Vec<String> = self.tag_keys.iter().filter(|k| k.kind == key.kind).map(|k| k.to_string()).collect();
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        format!("costbot does not collect spend by {} `{name}` (it collects: {known})", key.kind.as_str())
    }

    /// `by tag:KEY` / `by category:NAME` (the raw word after `by`); `None` when it is neither.
    /// Public so other front ends (query parameters, the terminal) read the same words.
    pub fn group(&self, raw: &str) -> Option<Result<GroupBy, ParseError>> {
        let key = prefixed(raw)?;
        Some(self.resolve(key).map(GroupBy::Tag))
    }

    /// A `key=value` filter on a tag: `tag:env`, `category:BusinessUnit`, or a configured tag
    /// key used bare (`team`). `None` when the key is none of these.
    pub fn filter(&self, raw_key: &str, value: &str) -> Option<Result<TagFilter, ParseError>> {
        let key = match prefixed(raw_key) {
            Some(key) => key,
            None => {
                let bare =
                    self.tag_keys.iter().find(|k| k.kind == TagKind::Tag && k.name.eq_ignore_ascii_case(raw_key));
                bare?.clone()
            }
        };
        Some(self.resolve(key).map(|key| TagFilter { key, value: value.to_string() }))
    }
}

/// The error for `by` followed by nothing the grammar knows.
pub(super) fn unknown_group() -> ParseError {
    missing("by", "service, account, region, usage-type, tag:KEY or category:NAME")
}

/// Suggests for a word that is neither a filter key nor a tag.
pub(super) fn unknown_filter(key: &str) -> ParseError {
    unknown(&format!("{key}="))
}
