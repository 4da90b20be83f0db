//! The execution worker: acts on approved proposals exactly once.
//!
//! - **Claim.** An approved proposal is claimed by a compare-and-swap on its version
//!   (Approved → Executing); however many workers or replicas try, one wins.
//! - **Re-check.** Right before acting, the resource is read again from the cloud; if it is
//!   gone, its state changed, or its tags changed at all, the worker aborts and says why.
//! - **Act.** Dry-run is the default and uses the cloud's own dry-run check where it has one.
//! - **Recover.** A claim whose lease ran out (the worker died mid-action) is finished by
//!   reading the resource's real state, never by acting again.
//!
//! Every step is written to the audit log, and the card is updated through the outbox.

use std::sync::Arc;

use anyhow::Result;
use chrono::{Duration, NaiveDateTime, Utc};

use crate::config::ChannelConfig;
use crate::domain::audit::AuditRecord;
use crate::domain::proposal::{recheck, Proposal, State};
use crate::domain::resource::{ActOutcome, Action, CloudInventory, Resource};
use crate::proposals::card_entries;
use crate::store::{AuditStore, OutboxStore, ProposalStore, Store};

/// How long a claim holds before recovery may take over.
pub const LEASE: Duration = Duration::minutes(5);

/// Acts on approved proposals.
pub struct Executor<S: ?Sized = dyn Store> {
    store: Arc<S>,
    cloud: Arc<dyn CloudInventory>,
    channels: Arc<Vec<ChannelConfig>>,
    dry_run: bool,
    owner: String,
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
        }
    }
}

impl<S: ProposalStore + OutboxStore + AuditStore + ?Sized> Executor<S> {
    /// A worker named `owner` (the replica), acting for real only when `dry_run` is false.
    pub fn new(
        store: Arc<S>,
        cloud: Arc<dyn CloudInventory>,
        channels: Arc<Vec<ChannelConfig>>,
        dry_run: bool,
        owner: String,
    ) -> Executor<S> {
        Executor { store, cloud, channels, dry_run, owner }
    }

    /// Expires overdue proposals, recovers interrupted executions, then executes every
    /// approved proposal this worker manages to claim. Returns how many executions it finished.
    pub async fn run_once(&self, now: NaiveDateTime) -> Result<usize> {
        let mut finished = 0;
        for p in self.store.proposals_in(&["pending"]).await? {
            if now >= p.expires_at {
                // The card must say the proposal expired when it does, not at the next discovery.
                self.finish(
                    &p,
                    State::Expired,
                    "proposal_expired",
                    serde_json::json!({ "expires_at": p.expires_at }),
                    now,
                )
                .await?;
            }
        }
        for p in self.store.proposals_in(&["executing"]).await? {
            if matches!(&p.state, State::Executing { until, .. } if *until < now) {
                finished += usize::from(self.recover(&p, now).await?);
            }
        }
        for p in self.store.proposals_in(&["approved"]).await? {
            let claimed = p.with_state(State::Executing { by: self.owner.clone(), until: now + LEASE }, now);
            if !self.store.save_proposal(&claimed, p.version).await? {
                continue;
            }
            self.audit(&claimed, "execution_claimed", serde_json::json!({ "dry_run": self.dry_run }), now).await?;
            finished += usize::from(self.execute(&claimed).await?);
        }
        Ok(finished)
    }

    async fn execute(&self, p: &Proposal) -> Result<bool> {
        let now = Utc::now().naive_utc();
        let reference = &p.finding.resource.reference;
        let current = match self.cloud.describe(reference).await {
            Ok(current) => current,
            Err(error) => {
                // The cloud did not answer; hand the proposal back rather than act blind.
                tracing::warn!(proposal = %p.id, error = %format!("{error:#}"), "re-check failed; will retry");
                return self
                    .finish(
                        p,
                        State::Approved,
                        "execution_deferred",
                        serde_json::json!({ "error": format!("{error:#}") }),
                        now,
                    )
                    .await;
            }
        };
        if let Some(reason) = recheck(&p.finding.resource, current.as_ref()) {
            return self
                .finish(
                    p,
                    State::Aborted { reason: reason.clone() },
                    "execution_aborted",
                    serde_json::json!({ "reason": reason }),
                    now,
                )
                .await;
        }
        let state = match self.cloud.act(reference, p.finding.action, self.dry_run).await {
            Ok(ActOutcome::Done { new_state }) => {
                State::Done { outcome: format!("{} is now {new_state}", reference.id), dry_run: false }
            }
            Ok(ActOutcome::DryRun { detail }) => State::Done { outcome: detail, dry_run: true },
            Err(error) => State::Failed { error: format!("{error:#}") },
        };
        let action = if matches!(state, State::Failed { .. }) { "execution_failed" } else { "execution_done" };
        let detail = serde_json::json!({ "state": serde_json::to_value(&state)?, "action": p.finding.action });
        self.finish(p, state, action, detail, Utc::now().naive_utc()).await
    }

    /// Finishes an execution whose worker died: the resource's real state decides the record.
    async fn recover(&self, p: &Proposal, now: NaiveDateTime) -> Result<bool> {
        let current = self.cloud.describe(&p.finding.resource.reference).await?;
        let state = if self.dry_run {
            State::Done { outcome: "dry run interrupted; nothing was changed".into(), dry_run: true }
        } else if acted(p.finding.action, current.as_ref()) {
            let seen = current.map_or("gone".to_string(), |r| r.state);
            State::Done { outcome: format!("completed before an interruption; the resource is {seen}"), dry_run: false }
        } else {
            State::Failed { error: "interrupted before the action could be confirmed; not retried automatically — propose and approve again to retry".into() }
        };
        self.finish(p, state, "execution_recovered", serde_json::json!({ "previous": p.state.name() }), now).await
    }

    async fn finish(
        &self,
        p: &Proposal,
        state: State,
        action: &str,
        detail: serde_json::Value,
        now: NaiveDateTime,
    ) -> Result<bool> {
        let next = p.with_state(state, now);
        if !self.store.save_proposal(&next, p.version).await? {
            return Ok(false);
        }
        crate::metrics::record_execution(&next.state);
        self.audit(&next, action, detail, now).await?;
        self.store.enqueue(&card_entries(&next, &self.channels, now), now).await?;
        Ok(true)
    }

    async fn audit(&self, p: &Proposal, action: &str, detail: serde_json::Value, now: NaiveDateTime) -> Result<()> {
        let record = AuditRecord {
            at: now,
            actor: format!("system:{}", self.owner),
            action: action.to_string(),
            target: p.id.0.clone(),
            channel: None,
            detail: serde_json::json!({ "resource": p.finding.resource.reference.to_string(), "version": p.version, "detail": detail }).to_string(),
        };
        self.store.append_audit(&record).await?;
        Ok(())
    }
}

/// Whether the resource's current state shows the action took effect.
fn acted(action: Action, current: Option<&Resource>) -> bool {
    let Some(r) = current else { return !matches!(action, Action::StopInstance | Action::StopDatabase) };
    let done: &[&str] = match action {
        Action::StopInstance | Action::StopDatabase => &["stopping", "stopped"],
        Action::TerminateInstance => &["shutting-down", "terminated"],
        Action::DeleteVolume | Action::DeleteDatabaseWithSnapshot => &["deleting", "deleted"],
        Action::ReleaseAddress => &[],
    };
    done.contains(&r.state.as_str())
}
