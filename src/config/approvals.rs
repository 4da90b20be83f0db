//! `[approvals]`: how savings proposals are decided and executed.

use serde::Deserialize;

use super::ExactDecimal;
use crate::domain::proposal::ApprovalRules;
use crate::domain::Money;

/// Approval and execution settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// Hours a proposal waits for a decision before it expires.
    pub expiry_hours: u64,
    /// Monthly savings above which two different approvers are needed.
    pub two_approvers_above: ExactDecimal,
    /// Hours before a pending proposal expires when one reminder is posted beside its card
    /// (0: no reminder). Never more than one per proposal, however many replicas run.
    pub remind_before_hours: u64,
    /// The resource tags an owner is read from, in order (an email, a Slack or Discord user
    /// id, or a team name from `[[owners]]`).
    pub owner_tag_keys: Vec<String>,
    /// Minutes an owner's email lookup (`users.lookupByEmail`) is remembered.
    pub owner_cache_minutes: u64,
    /// Dry-run: check every approved action (EC2's own DryRun flag) but change nothing. Acting
    /// for real needs `dry_run = false`, set on purpose.
    pub dry_run: bool,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            expiry_hours: 24,
            remind_before_hours: 4,
            owner_tag_keys: crate::domain::owner::DEFAULT_TAG_KEYS.iter().map(|k| k.to_string()).collect(),
            owner_cache_minutes: 60,
            two_approvers_above: ExactDecimal(rust_decimal::Decimal::new(500, 0)),
            dry_run: true,
        }
    }
}

impl ApprovalsConfig {
    /// How long before expiry the one reminder goes out; `None` when reminders are off.
    pub fn remind_before(&self) -> Option<chrono::Duration> {
        let hours = self.remind_before_hours.min(24 * 30);
        (hours > 0).then(|| chrono::Duration::hours(hours as i64))
    }

    /// The domain's approval rules.
    pub fn rules(&self) -> ApprovalRules {
        ApprovalRules {
            expires_after: chrono::Duration::hours(self.expiry_hours.clamp(1, 24 * 30) as i64),
            two_approvers_above: Money::from_decimal(self.two_approvers_above.0),
            dry_run: self.dry_run,
        }
    }
}
