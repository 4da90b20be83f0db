//! The JSON the store keeps for proposals and chat messages, as store-owned types.
//!
//! Rows hold these records, never the domain types' own serde form, so renaming a field in
//! `domain` changes the conversion here and not the bytes in the database. Every record is
//! written as `{"v": 1, …}`. A record without `v` is from before versioning (migration 0012
//! adds it to older rows; a replica still on the previous release may write one during a
//! rolling upgrade), and its shape is version 1's. A version this binary does not know is
//! refused with a clear error rather than misread.

pub(super) mod message;
pub(super) mod proposal;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The record version this binary writes and the newest it reads.
pub(super) const VERSION: u32 = 1;

/// A record with its version in front.
#[derive(Serialize)]
struct Versioned<'a, T> {
    v: u32,
    #[serde(flatten)]
    record: &'a T,
}

/// Only the version of a stored record.
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default = "first_version")]
    v: u32,
}

fn first_version() -> u32 {
    1
}

/// Serialises a record as `{"v": VERSION, …}`.
pub(super) fn encode<T: Serialize>(record: &T) -> Result<String> {
    serde_json::to_string(&Versioned { v: VERSION, record }).context("cannot serialise a stored record")
}

/// Reads a record written by [`encode`] (or before versioning); `what` names it in errors.
pub(super) fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let version = serde_json::from_str::<VersionOnly>(text).with_context(|| format!("stored {what} is not JSON"))?.v;
    if version != VERSION {
        bail!(
            "stored {what} is record version {version}; this costbot reads version {VERSION} \
             (is a newer costbot writing to this database?)"
        );
    }
    serde_json::from_str(text).with_context(|| format!("stored {what} is unreadable"))
}
