//! Savings proposals and their approval state machine. Pure: every rule about who may decide
//! what, when, is here and nowhere else.
//!
//! ```text
//! Pending ──approve (enough approvers)──► Approved ──claim──► Executing ──► Done | Aborted | Failed
//!    │  └─approve (one of two)─► Pending (v+1)
//!    ├──deny──► Denied
//!    ├──snooze──► Snoozed (until)
//!    ├──keep (owner or approver; also from Approved)──► Kept (until, reason)
//!    ├──expiry──► Expired
//!    └──finding gone──► Withdrawn
//! ```
//! Every change bumps the version; a decision must name the version the person saw, so a click
//! on a stale card can never approve a proposal that changed since.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::owner::Owner;
use super::resource::{Resource, SafetyPath, WasteFinding};
use super::waste::{self, PolicyConfig, RulesConfig};
use super::Money;

/// A stable proposal id, derived from the resource and the rule, so the same waste is one
/// proposal however often discovery runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProposalId(pub String);

impl ProposalId {
    /// `pr-` and 16 hex digits of a 64-bit FNV-1a hash of the resource and the rule.
    pub fn derive(finding: &WasteFinding) -> ProposalId {
        let text = format!("{}|{}", finding.resource.reference, finding.rule);
        let hash =
            text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        ProposalId(format!("pr-{hash:016x}"))
    }
}

impl std::fmt::Display for ProposalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// `slack:U123`, `discord:…`, `console:…`.
    pub by: String,
    /// When.
    pub at: NaiveDateTime,
}

/// Where a proposal is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Waiting for approvers.
    Pending,
    /// Approved by enough people; waiting for the execution worker.
    Approved,
    /// Claimed by a worker, which is re-checking and acting.
    Executing {
        /// The worker's name.
        by: String,
        /// The fencing token: the proposal's version when it was claimed. Every later change
        /// bumps the version, so a worker whose claim was taken over cannot confirm it.
        token: u32,
        /// Until when the claim holds, by the database's clock; after that, recovery takes
        /// over.
        until: NaiveDateTime,
        /// The mode fixed when the claim was made, used by the worker, by recovery and on the
        /// card, whatever the configuration of the replica that looks at it later.
        dry_run: bool,
        /// False while the worker is re-checking (nothing has been done, so recovery hands the
        /// proposal back); true once it confirmed its claim right before calling the cloud
        /// (recovery then reads the resource's real state and never acts again).
        acting: bool,
    },
    /// Acted (or dry-run confirmed).
    Done {
        /// What happened, in words.
        outcome: String,
        /// True when it was a dry run.
        dry_run: bool,
    },
    /// The re-check before acting found a reason not to act.
    Aborted {
        /// Why.
        reason: String,
    },
    /// The action failed, or an interrupted action could not be confirmed.
    Failed {
        /// Why.
        error: String,
    },
    /// Someone said no.
    Denied {
        /// Who.
        by: String,
    },
    /// Someone said "not now".
    Snoozed {
        /// Who.
        by: String,
        /// Until when.
        until: NaiveDateTime,
    },
    /// The resource's owner (or an approver) said "keep it": not acted on until `until`.
    Kept {
        /// Who.
        by: String,
        /// Until when.
        until: NaiveDateTime,
        /// Why, as shown on the card.
        reason: String,
    },
    /// Nobody decided in time.
    Expired,
    /// The waste went away before a decision (fixed by hand, say).
    Withdrawn,
}

impl State {
    /// A short name for storage and filters.
    pub fn name(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Executing { .. } => "executing",
            State::Done { .. } => "done",
            State::Aborted { .. } => "aborted",
            State::Failed { .. } => "failed",
            State::Denied { .. } => "denied",
            State::Snoozed { .. } => "snoozed",
            State::Kept { .. } => "kept",
            State::Expired => "expired",
            State::Withdrawn => "withdrawn",
        }
    }
}

/// A proposal to act on one waste finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Stable id.
    pub id: ProposalId,
    /// Bumped on every change; decisions must name it.
    pub version: u32,
    /// The finding as shown on the card.
    pub finding: WasteFinding,
    /// Approvals needed (1, or 2 on the strict path or above the savings threshold).
    pub required_approvals: u8,
    /// Approvals so far (distinct people).
    pub approvals: Vec<Approval>,
    /// Where it is.
    pub state: State,
    /// When it was proposed.
    pub created_at: NaiveDateTime,
    /// When it stops accepting decisions; once approved, when the approval lapses unless
    /// executed ([`APPROVAL_HOLDS`] after it).
    pub expires_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
    /// True when this is asked again because an earlier approval of the same finding only ran
    /// as a dry run (the card says so).
    pub earlier_dry_run: bool,
    /// The resource's owner, resolved from its tags when the proposal was made; `None` for
    /// proposals made before owners were looked at.
    #[serde(default)]
    pub owner: Option<Owner>,
}

/// A stored proposal row that could not be read back (a corrupt record, or one written by a
/// newer costbot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The row's id.
    pub id: ProposalId,
    /// Why it could not be read.
    pub error: String,
}

/// Proposals as read from the store: the readable ones, and the rows that were not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredProposals {
    /// Readable proposals, oldest change first.
    pub readable: Vec<Proposal>,
    /// Rows that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// What a person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Yes.
    Approve,
    /// No.
    Deny,
    /// Not now: ask again in [`SNOOZE`].
    Snooze,
}

/// How long "Snooze" lasts.
pub const SNOOZE: Duration = Duration::days(7);

/// How long an approval holds. An approval is for the resource as it was shown; if it cannot
/// be executed within this time (the cloud keeps failing to describe it, say), it lapses and
/// a person has to approve again. Not tuned on measurements: the worker looks every 5 s, so a
/// healthy replica executes within seconds and an hour only ever catches a stuck one.
pub const APPROVAL_HOLDS: Duration = Duration::hours(1);

/// Why a decision was refused. Each is shown to the person and written to the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// The person is not on the channel's approver list.
    #[error("you are not an approver in this channel")]
    NotAllowed,
    /// The card they clicked shows an older version.
    #[error("this card is out of date (you saw version {shown}, it is now {current}); look at the updated card")]
    Stale {
        /// The version on the clicked card.
        shown: u32,
        /// The current version.
        current: u32,
    },
    /// The proposal expired.
    #[error("this proposal expired; costbot will propose it again if the waste is still there")]
    Expired,
    /// Already decided.
    #[error("this proposal is already {0}")]
    Closed(&'static str),
    /// The same person tried to give both approvals.
    #[error("you already approved this; a second, different approver is needed")]
    SameApprover,
    /// Keep was pressed by someone who is neither the resource's owner nor an approver.
    #[error("only the resource's owner or an approver in a channel can keep it")]
    NotOwner,
}

/// How approvals are counted, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalRules {
    /// How long a proposal waits for a decision.
    pub expires_after: Duration,
    /// Savings per month above which two approvers are needed.
    pub two_approvers_above: Money,
    /// Whether actions are dry runs (`[approvals] dry_run`); when they are not, findings whose
    /// earlier approval only ran as a dry run are proposed again.
    pub dry_run: bool,
}

impl Proposal {
    /// A new pending proposal for a finding that is not excluded. `None` for excluded findings,
    /// which are never proposed.
    pub fn new(finding: WasteFinding, rules: &ApprovalRules, now: NaiveDateTime) -> Option<Proposal> {
        let strict = match &finding.path {
            SafetyPath::Excluded { .. } => return None,
            SafetyPath::Strict { .. } => true,
            SafetyPath::Normal => false,
        };
        let costly = finding.monthly_saving.is_some_and(|s| s > rules.two_approvers_above);
        Some(Proposal {
            id: ProposalId::derive(&finding),
            version: 1,
            required_approvals: if strict || costly { 2 } else { 1 },
            finding,
            approvals: Vec::new(),
            state: State::Pending,
            created_at: now,
            expires_at: now + rules.expires_after,
            updated_at: now,
            earlier_dry_run: false,
            owner: None,
        })
    }

    /// True when it still accepts decisions at `now`.
    pub fn is_open(&self, now: NaiveDateTime) -> bool {
        self.state == State::Pending && now < self.expires_at
    }

    /// Applies a person's decision. `allowed` is the channel allow-list's verdict for them;
    /// `shown` is the version on the card they clicked.
    pub fn decide(
        &self,
        by: &str,
        allowed: bool,
        decision: Decision,
        shown: u32,
        now: NaiveDateTime,
    ) -> Result<Proposal, DecisionError> {
        if !allowed {
            return Err(DecisionError::NotAllowed);
        }
        if self.state != State::Pending {
            return Err(DecisionError::Closed(self.state.name()));
        }
        if now >= self.expires_at {
            return Err(DecisionError::Expired);
        }
        if shown != self.version {
            return Err(DecisionError::Stale { shown, current: self.version });
        }
        let mut next = self.clone();
        next.version += 1;
        next.updated_at = now;
        match decision {
            Decision::Deny => next.state = State::Denied { by: by.to_string() },
            Decision::Snooze => next.state = State::Snoozed { by: by.to_string(), until: now + SNOOZE },
            Decision::Approve => {
                if self.approvals.iter().any(|a| a.by == by) {
                    return Err(DecisionError::SameApprover);
                }
                next.approvals.push(Approval { by: by.to_string(), at: now });
                if next.approvals.len() >= usize::from(self.required_approvals) {
                    next.state = State::Approved;
                    next.expires_at = now + APPROVAL_HOLDS;
                }
            }
        }
        Ok(next)
    }

    /// The owner's (or an approver's) **Keep**: the resource stays as it is and the proposal
    /// is not acted on until `until`, when discovery asks again if the waste is still there.
    /// `may_keep` says whether `by` is the owner or an approver where they pressed it. A
    /// pending or approved (not yet claimed) proposal can be kept.
    pub fn keep(
        &self,
        by: &str,
        may_keep: bool,
        reason: &str,
        shown: u32,
        until: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<Proposal, DecisionError> {
        if !may_keep {
            return Err(DecisionError::NotOwner);
        }
        if !matches!(self.state, State::Pending | State::Approved) {
            return Err(DecisionError::Closed(self.state.name()));
        }
        if self.state == State::Pending && now >= self.expires_at {
            return Err(DecisionError::Expired);
        }
        if shown != self.version {
            return Err(DecisionError::Stale { shown, current: self.version });
        }
        let state = State::Kept { by: by.to_string(), until, reason: reason.to_string() };
        Ok(self.with_state(state, now))
    }

    /// The same proposal in a new state, version bumped.
    pub fn with_state(&self, state: State, now: NaiveDateTime) -> Proposal {
        Proposal { state, version: self.version + 1, updated_at: now, ..self.clone() }
    }

    /// Whether discovery's latest finding changed what this proposal asks for (action, saving
    /// or safety path), in which case it is re-proposed as a new version and earlier
    /// approvals no longer count.
    pub fn differs_from(&self, finding: &WasteFinding) -> bool {
        let old = &self.finding;
        old.action != finding.action || old.monthly_saving != finding.monthly_saving || old.path != finding.path
    }
}

/// Why the re-check right before acting refuses to act, if it does: the resource is gone,
/// its state changed, or its tags changed in any way since the proposal was shown (a new
/// protection tag is the case that matters; any change means a person should look again).
pub fn recheck(shown: &Resource, now_seen: Option<&Resource>) -> Option<String> {
    let Some(current) = now_seen else {
        return Some("the resource no longer exists".to_string());
    };
    if current.state != shown.state {
        return Some(format!("its state changed from `{}` to `{}`", shown.state, current.state));
    }
    if current.size_class != shown.size_class {
        let text = |c: &Option<String>| c.clone().unwrap_or_else(|| "unknown".to_string());
        return Some(format!("its type changed from `{}` to `{}`", text(&shown.size_class), text(&current.size_class)));
    }
    if current.tags != shown.tags {
        let changed: Vec<String> = current
            .tags
            .iter()
            .filter(|(k, v)| shown.tags.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}={v}"))
            .chain(shown.tags.keys().filter(|k| !current.tags.contains_key(*k)).map(|k| format!("{k} removed")))
            .collect();
        return Some(format!("its tags changed ({})", changed.join(", ")));
    }
    None
}

/// The decision made again right before acting, on the resource as it is now (fresh activity
/// included): the [`recheck`] of state and tags, then the rule that proposed it and the safety
/// policy, re-run. Any difference is a reason not to act: the rule no longer finds the waste
/// (the resource became busy, say), the action or saving changed, or the policy is now
/// stricter (a finding that became strict needed two approvers; an excluded one is never
/// acted on). A path that became more relaxed is no reason: the approvals given were for the
/// stricter one.
pub fn decide_again(
    proposal: &Proposal,
    now_seen: Option<&Resource>,
    rules: &RulesConfig,
    policy: &PolicyConfig,
    now: NaiveDateTime,
) -> Option<String> {
    let shown = &proposal.finding;
    if let Some(reason) = recheck(&shown.resource, now_seen) {
        return Some(reason);
    }
    let current = now_seen?;
    let again = waste::findings(std::slice::from_ref(current), rules, policy, now);
    let Some(fresh) = again.iter().find(|f| f.rule == shown.rule) else {
        return Some(format!("the `{}` rule no longer finds waste in it (it was: {})", shown.rule, shown.evidence));
    };
    if let SafetyPath::Excluded { reason } = &fresh.path {
        return Some(format!("the safety policy now excludes it ({reason})"));
    }
    if fresh.action != shown.action {
        return Some(format!("the rule now asks to {} instead", fresh.action.verb()));
    }
    if fresh.monthly_saving != shown.monthly_saving {
        let text = |m: Option<Money>| m.map_or("unknown".to_string(), |m| m.to_string());
        return Some(format!(
            "its saving changed from {} to {} a month",
            text(shown.monthly_saving),
            text(fresh.monthly_saving)
        ));
    }
    if let (SafetyPath::Normal, SafetyPath::Strict { reason }) = (&shown.path, &fresh.path) {
        return Some(format!("it now needs two approvers ({reason})"));
    }
    None
}

#[cfg(test)]
mod tests;
