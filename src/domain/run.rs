//! Records of collector runs: what each run fetched, wrote and spent on API calls.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::cost::DateRange;
use super::ids::AccountId;

/// Store-assigned id of a collector run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunId(pub i64);

/// How a run, or one source within it, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or the process died while it ran).
    Running,
    /// Every source succeeded.
    Succeeded,
    /// Some sources failed; the others' data was written.
    Partial,
    /// Every source failed; nothing was written and earlier data is untouched.
    Failed,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<RunStatus> {
        match text {
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "partial" => Some(RunStatus::Partial),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }

    /// The status of a run from its sources' results: all good, all bad, or mixed.
    pub fn from_sources(sources: &[SourceReport]) -> RunStatus {
        let failed = sources.iter().filter(|s| s.error.is_some()).count();
        match failed {
            0 => RunStatus::Succeeded,
            n if n == sources.len() => RunStatus::Failed,
            _ => RunStatus::Partial,
        }
    }
}

/// What happened for one cost source (one payer account or one assumed role) in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The account whose Cost Explorer was queried.
    pub source: AccountId,
    /// The days asked for.
    pub range: DateRange,
    /// Facts written (inserted or updated).
    pub rows_written: u64,
    /// Cost Explorer requests made, pages included (each costs $0.01).
    pub api_calls: u64,
    /// The failure, in words a person can act on; `None` when the source succeeded.
    pub error: Option<String>,
}

/// One collector run as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorRun {
    /// Store id.
    pub id: RunId,
    /// Which job ran (`collect-costs`).
    pub job: String,
    /// When it started (UTC).
    pub started_at: NaiveDateTime,
    /// When it ended (UTC), if it did.
    pub finished_at: Option<NaiveDateTime>,
    /// Overall outcome.
    pub status: RunStatus,
    /// Summary of failures, if any.
    pub error: Option<String>,
    /// Facts written over all sources.
    pub rows_written: u64,
    /// Cost Explorer requests over all sources.
    pub api_calls: u64,
    /// Per-source detail.
    pub sources: Vec<SourceReport>,
}
