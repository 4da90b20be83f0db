//! The execution worker: acts on approved proposals exactly once.
//!
//! - **Claim.** An approved proposal is claimed by a compare-and-swap on its version
//!   (Approved → Executing). The claim carries a fencing token (the version it was claimed
//!   at), a deadline taken from the database's clock, and the mode (dry run or real) fixed for
//!   everyone who looks at it later.
//! - **Re-check.** Right before acting, the resource is read again from the cloud with fresh
//!   activity, and the decision is made again: if it is gone, its state or tags changed, or
//!   the rule and safety policy that proposed it no longer agree, the worker aborts and says
//!   why. The read runs under a timeout well inside the deadline.
//! - **Confirm, then act.** The worker confirms by another compare-and-swap that it still holds
//!   the claim, with enough time left, and only then calls the cloud, again under a timeout
//!   inside the deadline. A worker whose claim was taken over stands down without acting.
//! - **Recover.** Only after the claim's deadline by the database's clock: a claim that never
//!   reached the cloud is handed back to be executed normally; one that did is finished by
//!   reading the resource's real state, never by acting again.
//!
//! Every step is written to the audit log in the same transaction as the state change it
//! records, and the card is updated through the outbox in that transaction too. Each proposal
//! is handled on its own: one that fails is logged, counted in `/metrics` and skipped.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDateTime};

use crate::config::ChannelConfig;
use crate::domain::audit::AuditRecord;
use crate::domain::proposal::{decide_again, Proposal, State};
use crate::domain::resource::{ActOutcome, Action, CloudInventory, Resource};
use crate::domain::waste::{PolicyConfig, RulesConfig};
use crate::proposals::card_entries;
use crate::store::{AuditStore, ClockStore, OutboxStore, ProposalChange, ProposalStore, Store};

/// How long a claim holds before recovery may take over.
pub const LEASE: Duration = Duration::minutes(5);

/// How long each step of an execution may take. Both timeouts sit well inside the lease, so a
/// worker that is merely slow gives up before anyone else may take its claim over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a claim holds (from the database's clock) before recovery may take over.
    pub lease: Duration,
    /// The longest the re-check's read of the resource may take.
    pub describe_within: std::time::Duration,
    /// The longest the action may take. The claim is confirmed only while more than twice
    /// this much of the lease is left.
    pub act_within: std::time::Duration,
}

impl Timing {
    /// A quarter of the lease for the read and a quarter for the action, so the action always
    /// ends (or is abandoned) with at least a quarter of the lease to spare. Not tuned on
    /// measurements: against moto a describe or a stop answers in milliseconds, and with the
    /// default 5-minute lease the SDK's own three attempts fit 75 s many times over.
    pub fn for_lease(lease: Duration) -> Timing {
        let quarter = (lease / 4).to_std().unwrap_or_default();
        Timing { lease, describe_within: quarter, act_within: quarter }
    }
}

impl Default for Timing {
    fn default() -> Timing {
        Timing::for_lease(LEASE)
    }
}

/// The roles the executor uses.
pub trait ExecutionTables: ProposalStore + OutboxStore + AuditStore + ClockStore {}

impl<T: ProposalStore + OutboxStore + AuditStore + ClockStore + ?Sized> ExecutionTables for T {}

/// Acts on approved proposals.
pub struct Executor<S: ?Sized = dyn Store> {
    store: Arc<S>,
    cloud: Arc<dyn CloudInventory>,
    channels: Arc<Vec<ChannelConfig>>,
    dry_run: bool,
    owner: String,
    timing: Timing,
    rules: RulesConfig,
    policy: PolicyConfig,
    remind_before: Option<Duration>,
}

// A derived `Clone` would ask for `S: Clone`; cloning shares the store handle instead.
impl<S: ?Sized> Clone for Executor<S> {
    fn clone(&self) -> Self {
        Executor {
            store: self.store.clone(),
            cloud: self.cloud.clone(),
            channels: self.channels.clone(),
            dry_run: self.dry_run,
            owner: self.owner.clone(),
            timing: self.timing,
            rules: self.rules.clone(),
            policy: self.policy.clone(),
            remind_before: self.remind_before,
        }
    }
}

impl<S: ExecutionTables + ?Sized> Executor<S> {
    /// A worker named `owner` (the replica), claiming for real only when `dry_run` is false,
    /// re-running the default waste rules and safety policy before acting (see
    /// [`Executor::with_waste_policy`]).
    pub fn new(
        store: Arc<S>,
        cloud: Arc<dyn CloudInventory>,
        channels: Arc<Vec<ChannelConfig>>,
        dry_run: bool,
        owner: String,
    ) -> Executor<S> {
        let (rules, policy) = (RulesConfig::default(), PolicyConfig::default());
        Executor {
            store,
            cloud,
            channels,
            dry_run,
            owner,
            timing: Timing::default(),
            rules,
            policy,
            remind_before: None,
        }
    }

    /// The same worker re-running these rules and this policy (the ones discovery proposed
    /// with, from `[waste]`) right before acting.
    pub fn with_waste_policy(self, rules: RulesConfig, policy: PolicyConfig) -> Executor<S> {
        Executor { rules, policy, ..self }
    }

    /// The same worker posting one reminder this long before a pending proposal expires
    /// (`[approvals] remind_before_hours`; `None`: no reminder).
    pub fn with_reminders(self, remind_before: Option<Duration>) -> Executor<S> {
        Executor { remind_before, ..self }
    }

    /// The same worker with other timing (tests use a lease of seconds).
    pub fn with_timing(self, timing: Timing) -> Executor<S> {
        Executor { timing, ..self }
    }

    /// Expires overdue proposals, recovers claims past their deadline, then executes every
    /// approved proposal this worker manages to claim, each on its own: one that fails is
    /// logged, counted and skipped. Returns how many executions it finished. Fails only when
    /// the store cannot list proposals at all.
    pub async fn run_once(&self, now: NaiveDateTime) -> Result<usize> {
        let rows = self.store.proposal_rows(&["pending", "approved", "executing"]).await?;
        for bad in &rows.unreadable {
            tracing::error!(proposal = %bad.id, error = %bad.error, "a stored proposal is unreadable; skipped");
            crate::metrics::record_proposal_error("unreadable");
        }
        let db_now = self.store.database_now().await?;
        let mut finished = 0;
        for p in &rows.readable {
            let (stage, result) = match &p.state {
                State::Pending | State::Approved if now >= p.expires_at => ("expire", self.expire(p, now).await),
                State::Pending if self.remind_before.is_some_and(|lead| now >= p.expires_at - lead) => {
                    ("remind", self.remind(p, now).await)
                }
                State::Executing { until, .. } if *until < db_now => ("recover", self.recover(p, now).await),
                State::Approved => ("execute", self.claim_and_execute(p, now).await),
                _ => continue,
            };
            match result {
                Ok(done) => finished += usize::from(done),
                Err(error) => {
                    tracing::warn!(proposal = %p.id, stage, error = %format!("{error:#}"), "one proposal failed; skipped");
                    crate::metrics::record_proposal_error(stage);
                }
            }
        }
        Ok(finished)
    }

    /// A pending proposal nobody decided in time, or an approval nobody could act on in time:
    /// either way a person has to look again. The card says so when it happens, not at the
    /// next discovery.
    async fn expire(&self, p: &Proposal, now: NaiveDateTime) -> Result<bool> {
        let action = if p.state == State::Approved { "approval_expired" } else { "proposal_expired" };
        let detail = serde_json::json!({ "expires_at": p.expires_at });
        self.change(&p.with_state(State::Expired, now), p.version, action, detail, true, now).await?;
        Ok(false)
    }

    /// The one reminder before a pending proposal expires, beside its card; stored with its
    /// audit record, once across replicas (the outbox's dedupe key decides).
    async fn remind(&self, p: &Proposal, now: NaiveDateTime) -> Result<bool> {
        let entries = crate::proposals::reminder_entries(p, &self.channels);
        let detail = serde_json::json!({ "expires_at": p.expires_at, "approvals": p.approvals.len() });
        let audit = self.record(p, "proposal_reminded", detail, now);
        self.store.remind_proposal(&entries, &audit, now).await?;
        Ok(false)
    }

    async fn claim_and_execute(&self, p: &Proposal, now: NaiveDateTime) -> Result<bool> {
        let until = self.store.database_now().await? + self.timing.lease;
        let state = State::Executing {
            by: self.owner.clone(),
            token: p.version + 1,
            until,
            dry_run: self.dry_run,
            acting: false,
        };
        let claimed = p.with_state(state, now);
        let detail = serde_json::json!({ "dry_run": self.dry_run, "until": until, "token": claimed.version });
        if !self.change(&claimed, p.version, "execution_claimed", detail, false, now).await? {
            return Ok(false);
        }
        self.execute(&claimed, now).await
    }

    async fn execute(&self, claimed: &Proposal, now: NaiveDateTime) -> Result<bool> {
        let reference = &claimed.finding.resource.reference;
        let current = match tokio::time::timeout(self.timing.describe_within, self.cloud.describe(reference)).await {
            Ok(Ok(current)) => current,
            // The cloud did not answer (in time); hand the proposal back rather than act blind.
            Ok(Err(error)) => return self.hand_back(claimed, format!("{error:#}"), now).await,
            Err(_) => {
                let why = format!("describing the resource took longer than {:?}", self.timing.describe_within);
                return self.hand_back(claimed, why, now).await;
            }
        };
        if let Some(reason) = decide_again(claimed, current.as_ref(), &self.rules, &self.policy, now) {
            let next = claimed.with_state(State::Aborted { reason: reason.clone() }, now);
            let detail = serde_json::json!({ "reason": reason });
            return self.change(&next, claimed.version, "execution_aborted", detail, true, now).await;
        }
        let Some(acting) = self.confirm(claimed, now).await? else { return Ok(false) };
        let State::Executing { dry_run, .. } = acting.state else { anyhow::bail!("a confirmed claim is executing") };
        let action = claimed.finding.action;
        let acting_on_cloud = async {
            match action {
                Action::OffHours => Ok(crate::schedules::switched_on(dry_run)),
                _ => self.cloud.act(reference, action, dry_run).await,
            }
        };
        let state = match tokio::time::timeout(self.timing.act_within, acting_on_cloud).await {
            Ok(Ok(ActOutcome::Done { new_state })) => {
                State::Done { outcome: format!("{} is now {new_state}", reference.id), dry_run: false }
            }
            Ok(Ok(ActOutcome::DryRun { detail })) => State::Done { outcome: detail, dry_run: true },
            Ok(Err(error)) => State::Failed { error: format!("{error:#}") },
            Err(_) => {
                // The request may have reached the cloud; recovery reads the real state after
                // the deadline rather than this worker guessing now.
                tracing::warn!(proposal = %acting.id, "the action timed out; recovery will read the real state");
                let detail = serde_json::json!({ "after": format!("{:?}", self.timing.act_within) });
                self.audit_only(&acting, "execution_timed_out", detail, now).await?;
                return Ok(false);
            }
        };
        self.finish_action(&acting, state, now).await
    }

    /// Confirms the claim right before acting: the proposal is still at the claimed version
    /// and enough of the lease is left for the action's timeout. `None` (after recording why)
    /// when this worker must not act.
    async fn confirm(&self, claimed: &Proposal, now: NaiveDateTime) -> Result<Option<Proposal>> {
        let State::Executing { by, token, until, dry_run, .. } = claimed.state.clone() else {
            anyhow::bail!("only an executing proposal can be confirmed")
        };
        let left = until - self.store.database_now().await?;
        let needed = Duration::from_std(self.timing.act_within * 2).unwrap_or(Duration::MAX);
        if left < needed {
            let why =
                format!("only {}s of the claim were left, {}s are needed", left.num_seconds(), needed.num_seconds());
            self.hand_back(claimed, why, now).await?;
            return Ok(None);
        }
        let acting = claimed.with_state(State::Executing { by, token, until, dry_run, acting: true }, now);
        let detail = serde_json::json!({ "token": token, "dry_run": dry_run });
        if self.change(&acting, claimed.version, "execution_confirmed", detail, false, now).await? {
            return Ok(Some(acting));
        }
        // Someone took the claim over (recovery after the deadline): stand down, and say so.
        tracing::warn!(proposal = %claimed.id, token, "the claim was taken over before acting; not acting");
        let detail = serde_json::json!({ "token": token, "reason": "the claim was taken over before acting" });
        self.audit_only(claimed, "execution_abandoned", detail, now).await?;
        Ok(None)
    }

    /// Hands a claimed proposal back to Approved without having acted, so a later run tries
    /// again (until the approval's deadline).
    async fn hand_back(&self, claimed: &Proposal, why: String, now: NaiveDateTime) -> Result<bool> {
        tracing::warn!(proposal = %claimed.id, error = %why, "re-check not possible; will retry");
        let detail = serde_json::json!({ "error": why });
        self.change(
            &claimed.with_state(State::Approved, now),
            claimed.version,
            "execution_deferred",
            detail,
            true,
            now,
        )
        .await?;
        Ok(false)
    }

    /// Records what the action did. If the claim was recovered while the cloud was answering,
    /// recovery has written the record from the resource's state; this worker's own result is
    /// then appended to the audit log as well, so no call to the cloud goes unrecorded.
    async fn finish_action(&self, acting: &Proposal, state: State, now: NaiveDateTime) -> Result<bool> {
        let action = if matches!(state, State::Failed { .. }) { "execution_failed" } else { "execution_done" };
        let detail = serde_json::json!({ "state": serde_json::to_value(&state)?, "action": acting.finding.action });
        if self.change(&acting.with_state(state, now), acting.version, action, detail.clone(), true, now).await? {
            return Ok(true);
        }
        self.audit_only(acting, "execution_result_late", detail, now).await?;
        Ok(false)
    }

    /// Takes over a claim past its deadline. A worker that never confirmed did nothing, so
    /// the proposal goes back to Approved; one that confirmed may have acted, so the resource's
    /// real state (and the claim's own mode) decide the record.
    async fn recover(&self, p: &Proposal, now: NaiveDateTime) -> Result<bool> {
        let State::Executing { by, token, dry_run, acting, .. } = &p.state else { return Ok(false) };
        if !acting {
            let detail = serde_json::json!({ "previous_worker": by, "token": token, "acted": false });
            self.change(&p.with_state(State::Approved, now), p.version, "execution_released", detail, true, now)
                .await?;
            return Ok(false);
        }
        let current =
            tokio::time::timeout(self.timing.describe_within, self.cloud.describe(&p.finding.resource.reference))
                .await
                .context("describing the resource for recovery timed out")??;
        let state = if *dry_run {
            State::Done { outcome: "dry run interrupted; nothing was changed".into(), dry_run: true }
        } else if acted(p.finding.action, &p.finding.resource, current.as_ref()) {
            let seen = current.map_or("gone".to_string(), |r| r.state);
            State::Done { outcome: format!("completed before an interruption; the resource is {seen}"), dry_run: false }
        } else {
            State::Failed { error: "interrupted before the action could be confirmed; not retried automatically — propose and approve again to retry".into() }
        };
        let action = if matches!(state, State::Failed { .. }) { "execution_failed" } else { "execution_done" };
        let detail = serde_json::json!({ "recovered": true, "previous_worker": by, "token": token,
            "state": serde_json::to_value(&state)? });
        self.change(&p.with_state(state, now), p.version, action, detail, true, now).await
    }

    /// One audited change (with the cards when `cards`), in one transaction. `false` when the
    /// proposal moved on first.
    async fn change(
        &self,
        next: &Proposal,
        from_version: u32,
        action: &str,
        detail: serde_json::Value,
        cards: bool,
        now: NaiveDateTime,
    ) -> Result<bool> {
        let change = ProposalChange {
            next,
            from_version,
            audit: self.record(next, action, detail, now),
            cards: if cards { card_entries(next, &self.channels, now) } else { Vec::new() },
            now,
        };
        let changed = self.store.change_proposal(&change).await?.is_some();
        if changed {
            crate::metrics::record_execution(&next.state);
        }
        Ok(changed)
    }

    /// An audit record without a state change: a worker standing down or a late result.
    async fn audit_only(
        &self,
        p: &Proposal,
        action: &str,
        detail: serde_json::Value,
        now: NaiveDateTime,
    ) -> Result<()> {
        self.store.append_audit(&self.record(p, action, detail, now)).await?;
        Ok(())
    }

    fn record(&self, p: &Proposal, action: &str, detail: serde_json::Value, now: NaiveDateTime) -> AuditRecord {
        AuditRecord {
            at: now,
            actor: format!("system:{}", self.owner),
            action: action.to_string(),
            target: p.id.0.clone(),
            channel: None,
            detail: serde_json::json!({ "resource": p.finding.resource.reference.to_string(), "version": p.version, "detail": detail }).to_string(),
        }
    }
}

/// Whether the resource's current state shows the action took effect.
fn acted(action: Action, shown: &Resource, current: Option<&Resource>) -> bool {
    let Some(r) = current else {
        // Gone is what a destructive action leads to; an undoable one needed the resource.
        return action.destructive();
    };
    let done: &[&str] = match action {
        Action::ModifyVolumeToGp3 => return r.size_class.as_deref() == Some("gp3"),
        // Switching a schedule on calls no cloud API, so there is nothing to have half-done.
        Action::OffHours => return true,
        Action::StartInstance | Action::StartDatabase => &["pending", "running", "starting", "available"],
        // A resize is done when the type changed and the instance is back up.
        Action::ResizeInstance | Action::ModernizeInstance => {
            return r.size_class != shown.size_class && matches!(r.state.as_str(), "pending" | "running")
        }
        Action::StopInstance | Action::StopDatabase => &["stopping", "stopped"],
        Action::TerminateInstance => &["shutting-down", "terminated"],
        Action::DeleteVolume
        | Action::DeleteDatabaseWithSnapshot
        | Action::DeleteSnapshot
        | Action::DeleteDbSnapshot
        | Action::DeleteNatGateway
        | Action::DeleteLoadBalancer => &["deleting", "deleted"],
        Action::ReleaseAddress => &[],
    };
    done.contains(&r.state.as_str())
}
