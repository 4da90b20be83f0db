//! Audit records and their hash chain. Pure: hashing and verification do no I/O.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Something worth recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Who: `slack:U123`, `discord:123`, `console:demo`, `system`.
    pub actor: String,
    /// What, as a stable snake_case verb: `click_refused`, `anomaly_acknowledged`, …
    pub action: String,
    /// What it was done to: an anomaly or proposal id.
    pub target: String,
    /// Where: the channel, if it happened in chat.
    pub channel: Option<String>,
    /// Anything else, as a JSON object (kept as text so the hash covers it byte for byte).
    pub detail: String,
}

/// A stored record with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log.
    pub seq: i64,
    /// The record.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// Hash of the previous entry ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this entry: SHA-256 over the previous hash and the record's fields.
    pub hash: String,
}

/// The hash of a record that follows `prev_hash`. Fields are length-prefixed so no two
/// different records can produce the same byte stream.
pub fn chain_hash(prev_hash: &str, record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    let at = record.at.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    let channel = record.channel.as_deref().unwrap_or("");
    for field in [prev_hash, at.as_str(), &record.actor, &record.action, &record.target, channel, &record.detail] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The entry's `prev_hash` is not the previous entry's hash (an entry was removed or
    /// reordered).
    #[error("entry {seq}: prev_hash does not match the previous entry's hash")]
    Link {
        /// The first broken entry.
        seq: i64,
    },
    /// The entry's content does not match its hash (it was edited).
    #[error("entry {seq}: content does not match its hash")]
    Content {
        /// The first broken entry.
        seq: i64,
    },
}

/// Checks a chain in order and reports the first broken entry.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainError> {
    verify_chain_after(GENESIS, entries)
}

/// Like [`verify_chain`], for entries that continue a chain already verified up to the entry
/// whose hash is `prev` (an incremental check from a checkpoint).
pub fn verify_chain_after(prev: &str, entries: &[AuditEntry]) -> Result<(), ChainError> {
    let mut prev = prev.to_string();
    for entry in entries {
        if entry.prev_hash != prev {
            return Err(ChainError::Link { seq: entry.seq });
        }
        if chain_hash(&entry.prev_hash, &entry.record) != entry.hash {
            return Err(ChainError::Content { seq: entry.seq });
        }
        prev = entry.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> AuditRecord {
        AuditRecord {
            at: "2026-11-25T10:00:00".parse().unwrap(),
            actor: "slack:U1".into(),
            action: action.into(),
            target: "an-1".into(),
            channel: Some("C1".into()),
            detail: "{}".into(),
        }
    }

    fn chain(actions: &[&str]) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let record = record(a);
                let hash = chain_hash(&prev, &record);
                let entry = AuditEntry { seq: i as i64 + 1, record, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_edits_or_gaps_are_found() {
        let entries = chain(&["a", "b", "c"]);
        assert_eq!(verify_chain(&entries), Ok(()));
        let mut edited = entries.clone();
        edited[1].record.actor = "slack:U2".into();
        assert_eq!(verify_chain(&edited), Err(ChainError::Content { seq: 2 }));
        let gap = vec![entries[0].clone(), entries[2].clone()];
        assert_eq!(verify_chain(&gap), Err(ChainError::Link { seq: 3 }));
    }

    #[test]
    fn field_boundaries_matter() {
        let mut a = record("x");
        let mut b = record("x");
        a.actor = "ab".into();
        a.action = "c".into();
        b.actor = "a".into();
        b.action = "bc".into();
        assert_ne!(chain_hash(GENESIS, &a), chain_hash(GENESIS, &b));
    }
}
