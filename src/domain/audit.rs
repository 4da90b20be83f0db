//! Audit records and their hash chain. Pure: hashing and verification do no I/O.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash scheme new entries are written with. Version 1 (entries written before it) hashed
/// neither `seq` nor whether `channel` was absent or empty; version 2 hashes both. Stored rows
/// cannot be rewritten, so each entry keeps the version it was hashed with.
pub const HASH_VERSION: u8 = 2;

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
    /// The hash scheme this entry was written with (1 or [`HASH_VERSION`]).
    pub hash_version: u8,
}

impl AuditEntry {
    /// The checkpoint this entry is the head of.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { seq: self.seq, hash: self.hash.clone() }
    }
}

/// A head of the chain (seq and hash) kept outside the database (logs, the digest, the
/// dashboard), so a rewrite or a cut of the log up to it can be proven later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The entry's position.
    pub seq: i64,
    /// The entry's hash.
    pub hash: String,
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = String;

    /// Parses `SEQ:HASH` as printed by [`Checkpoint`]'s `Display`.
    fn from_str(text: &str) -> Result<Checkpoint, String> {
        let (seq, hash) = text.split_once(':').ok_or_else(|| format!("`{text}` is not SEQ:HASH"))?;
        let seq: i64 = seq.parse().map_err(|_| format!("`{seq}` is not a sequence number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{hash}` is not a SHA-256 hash in hex"));
        }
        Ok(Checkpoint { seq, hash: hash.to_ascii_lowercase() })
    }
}

/// The hash of entry `seq` holding `record` after `prev_hash`, in the current scheme: the
/// scheme tag, the previous hash, the sequence number and every field, each length-prefixed,
/// with the channel preceded by a presence byte so an absent channel and an empty one differ.
pub fn entry_hash(prev_hash: &str, seq: i64, record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    let at = record.at.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    let seq = seq.to_string();
    let fields = ["costbot-audit-v2", prev_hash, &seq, &at, &record.actor, &record.action, &record.target];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    match &record.channel {
        None => hasher.update([0u8]),
        Some(channel) => {
            hasher.update([1u8]);
            hasher.update((channel.len() as u64).to_be_bytes());
            hasher.update(channel.as_bytes());
        }
    }
    hasher.update((record.detail.len() as u64).to_be_bytes());
    hasher.update(record.detail.as_bytes());
    hex::encode(hasher.finalize())
}

/// The hash an entry should have under the scheme it was written with.
fn expected_hash(entry: &AuditEntry) -> Option<String> {
    match entry.hash_version {
        1 => Some(chain_hash(&entry.prev_hash, &entry.record)),
        2 => Some(entry_hash(&entry.prev_hash, entry.seq, &entry.record)),
        _ => None,
    }
}

/// The version 1 hash of a record that follows `prev_hash` (entries written before
/// [`HASH_VERSION`] 2). Fields are length-prefixed so no two different records can produce the
/// same byte stream.
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
    /// A version 2 entry does not directly follow the one before it.
    #[error("entry {seq}: expected sequence number {expected}")]
    Sequence {
        /// The entry.
        seq: i64,
        /// The sequence number it should have.
        expected: i64,
    },
    /// The checkpointed entry is no longer in the log: it, or the log's end, was removed.
    #[error("checkpoint {checkpoint}: entry {} is missing (the log was cut; it ends at {last})", checkpoint.seq)]
    CheckpointMissing {
        /// The checkpoint given.
        checkpoint: Checkpoint,
        /// The last sequence number in the log (0 when empty).
        last: i64,
    },
    /// The checkpointed entry is there with a different hash: the log up to it was rewritten.
    #[error("checkpoint {checkpoint}: entry {} now has hash {found} (the log was rewritten)", checkpoint.seq)]
    CheckpointDiffers {
        /// The checkpoint given.
        checkpoint: Checkpoint,
        /// The hash the entry has now.
        found: String,
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
    let mut last_seq = None;
    for entry in entries {
        if entry.prev_hash != prev {
            return Err(ChainError::Link { seq: entry.seq });
        }
        // Version 1 entries took their numbers from a sequence that may skip; version 2
        // entries are numbered by the appender, one after the other, and hash their number.
        if let (2, Some(last)) = (entry.hash_version, last_seq) {
            if entry.seq != last + 1 {
                return Err(ChainError::Sequence { seq: entry.seq, expected: last + 1 });
            }
        }
        if expected_hash(entry).as_deref() != Some(entry.hash.as_str()) {
            return Err(ChainError::Content { seq: entry.seq });
        }
        prev = entry.hash.clone();
        last_seq = Some(entry.seq);
    }
    Ok(())
}

/// Checks a chain and that it still holds a checkpoint taken earlier: the entry at the
/// checkpoint's `seq` exists and has its hash. Since every hash covers everything before it,
/// this proves nothing up to the checkpoint was rewritten, and that the log was not cut short
/// of it (which [`verify_chain`] alone cannot see).
pub fn verify_with_checkpoint(entries: &[AuditEntry], checkpoint: &Checkpoint) -> Result<(), ChainError> {
    verify_chain(entries)?;
    match entries.iter().find(|e| e.seq == checkpoint.seq) {
        Some(entry) if entry.hash == checkpoint.hash => Ok(()),
        Some(entry) => Err(ChainError::CheckpointDiffers { checkpoint: checkpoint.clone(), found: entry.hash.clone() }),
        None => Err(ChainError::CheckpointMissing {
            checkpoint: checkpoint.clone(),
            last: entries.last().map_or(0, |e| e.seq),
        }),
    }
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
                let seq = i as i64 + 1;
                let hash = entry_hash(&prev, seq, &record);
                let entry =
                    AuditEntry { seq, record, prev_hash: prev.clone(), hash: hash.clone(), hash_version: HASH_VERSION };
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
        assert_ne!(entry_hash(GENESIS, 1, &a), entry_hash(GENESIS, 1, &b));
    }

    #[test]
    fn the_hash_covers_seq_and_an_absent_channel_differs_from_an_empty_one() {
        let with_empty = AuditRecord { channel: Some(String::new()), ..record("x") };
        let without = AuditRecord { channel: None, ..record("x") };
        assert_eq!(chain_hash(GENESIS, &with_empty), chain_hash(GENESIS, &without), "version 1 could not tell");
        assert_ne!(entry_hash(GENESIS, 1, &with_empty), entry_hash(GENESIS, 1, &without));
        assert_ne!(entry_hash(GENESIS, 1, &without), entry_hash(GENESIS, 2, &without));
        let mut renumbered = chain(&["a", "b", "c"]);
        renumbered[2].seq = 4;
        assert_eq!(verify_chain(&renumbered), Err(ChainError::Sequence { seq: 4, expected: 3 }));
    }

    #[test]
    fn a_checkpoint_finds_a_cut_or_rewritten_log() {
        let entries = chain(&["a", "b", "c"]);
        let head = entries[2].checkpoint();
        assert_eq!(verify_with_checkpoint(&entries, &head), Ok(()));
        let cut = &entries[..2];
        assert_eq!(verify_chain(cut), Ok(()), "a cut chain is still a valid chain");
        let err = verify_with_checkpoint(cut, &head).unwrap_err();
        assert!(err.to_string().contains(&format!("checkpoint 3:{}", head.hash)) && err.to_string().contains("cut"));
        let other = Checkpoint { seq: 3, hash: "a".repeat(64) };
        assert!(matches!(verify_with_checkpoint(&entries, &other), Err(ChainError::CheckpointDiffers { .. })));
        assert_eq!(head.to_string().parse::<Checkpoint>(), Ok(head.clone()));
        assert!("3:xyz".parse::<Checkpoint>().is_err() && "abc".parse::<Checkpoint>().is_err());
    }
}
