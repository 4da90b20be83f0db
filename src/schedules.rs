//! The off-hours switcher: stops and starts resources on their approved schedules.
//!
//! A schedule is a proposal with the [`Action::OffHours`] action that a person approved and
//! the executor finished (switching it on calls no cloud API). Every replica runs the
//! switcher beside the executor; each switch is claimed once per `(schedule, moment)` in the
//! same `job_runs` table the scheduled jobs use, so with any number of replicas a switch
//! happens at most once. Right before it, the resource is described again and the decision
//! is made again ([`decide_transition`]): a protected tag, a changed or removed schedule tag,
//! or a state the switch does not expect skips it, and the audit log says why. Each switch
//! is audited twice, when claimed (before any cloud call) and with its outcome, and dry run
//! (the configuration's, or a schedule approved while dry run was on)
//! only checks that the call would succeed.
//!
//! Only the latest switch that is due is acted on: after an outage that missed a stop and the
//! start after it, the resource is started (or left running), never stopped late. A switch is
//! due for [`CATCH_UP`] after its time; a replica that crashes after claiming a switch and
//! before acting loses that one switch (it is never done twice), and the next one happens as
//! planned.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDateTime};

use crate::domain::audit::AuditRecord;
use crate::domain::offhours::{decide_transition, Schedule, Switch, Transition, TransitionDecision};
use crate::domain::proposal::{Proposal, State};
use crate::domain::resource::{ActOutcome, Action, CloudInventory, ResourceKind};
use crate::domain::waste::{protected_tag, PolicyConfig};
use crate::store::{AuditStore, ProposalStore, SchedulePause, ScheduleStore, TickStore};

/// How long after its time a switch is still made (a replica restarting, a slow loop).
pub const CATCH_UP: Duration = Duration::hours(2);

/// How long describing or switching a resource may take before the switch is given up.
const CLOUD_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// The outcome of approving a schedule: nothing is called in the cloud.
pub fn switched_on(dry_run: bool) -> ActOutcome {
    if dry_run {
        ActOutcome::DryRun {
            detail: "would follow its off-hours schedule; while dry run is on, each switch is only checked".into(),
        }
    } else {
        ActOutcome::Done { new_state: "on its off-hours schedule".into() }
    }
}

/// AWS's convention for monthly prices: 730 hours a month.
const HOURS_PER_MONTH: i64 = 730;

/// An approved schedule as `/cost offhours` lists it; `None` for any other proposal.
pub fn listed(
    p: &Proposal,
    tag_key: &str,
    pause: Option<&SchedulePause>,
    now: NaiveDateTime,
) -> Option<crate::render::offhours::ScheduleRow> {
    if p.finding.action != Action::OffHours {
        return None;
    }
    let State::Done { dry_run, .. } = p.state else { return None };
    let schedule = Schedule::parse(p.finding.resource.tag(tag_key)?).ok()?;
    let hourly = p
        .finding
        .resource
        .monthly_cost
        .map(|m| crate::domain::Money::from_decimal(m.as_decimal() / rust_decimal::Decimal::from(HOURS_PER_MONTH)));
    Some(crate::render::offhours::ScheduleRow {
        id: p.id.0.clone(),
        paused: pause.map(|x| {
            x.until.map_or(format!("paused by {}", x.by), |u| format!("paused by {} until {}", x.by, u.date()))
        }),
        resource: p.finding.resource.reference.to_string(),
        schedule: schedule.to_string(),
        next: schedule.next(now.and_utc()).map(|t| (t.at, t.switch)),
        saved: hourly.map(|h| schedule.saving(h, p.updated_at.and_utc(), now.and_utc())),
        dry_run,
    })
}

/// The roles the switcher uses.
pub trait SwitchTables: ProposalStore + TickStore + AuditStore + ScheduleStore {}

impl<T: ProposalStore + TickStore + AuditStore + ScheduleStore + ?Sized> SwitchTables for T {}

/// What one switch did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    /// The schedule (proposal) id.
    pub schedule: String,
    /// The transition's key (`2026-03-30/stop`).
    pub transition: String,
    /// The audit action recorded: `offhours_switched`, `offhours_dry_run`, `offhours_skipped`
    /// or `offhours_failed`.
    pub recorded: String,
}

/// Stops and starts scheduled resources.
pub struct Switcher<S: ?Sized> {
    store: Arc<S>,
    cloud: Arc<dyn CloudInventory>,
    dry_run: bool,
    policy: PolicyConfig,
    tag_key: String,
    owner: String,
}

impl<S: SwitchTables + ?Sized> Switcher<S> {
    /// A switcher named `owner` (the replica), acting for real only when `dry_run` is false,
    /// re-checking protected tags from `policy` and schedules from the `tag_key` tag.
    pub fn new(
        store: Arc<S>,
        cloud: Arc<dyn CloudInventory>,
        dry_run: bool,
        policy: PolicyConfig,
        tag_key: String,
        owner: String,
    ) -> Switcher<S> {
        Switcher { store, cloud, dry_run, policy, tag_key, owner }
    }

    /// Makes every switch that is due at `now` and that this replica claims first. One
    /// schedule failing is logged and skipped; the others proceed.
    pub async fn run_once(&self, now: NaiveDateTime) -> Result<Vec<Switched>> {
        let mut out = Vec::new();
        let pauses = self.store.schedule_pauses().await?;
        for p in self.store.proposals_in(&["done"]).await? {
            if p.finding.action != Action::OffHours {
                continue;
            }
            let pause = pauses.iter().find(|x| x.schedule == p.id.0);
            match self.switch_one(&p, pause, now).await {
                Ok(Some(switched)) => out.push(switched),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(schedule = %p.id, error = %format!("{error:#}"), "one schedule failed; skipped");
                    crate::metrics::record_proposal_error("offhours");
                }
            }
        }
        Ok(out)
    }

    async fn switch_one(
        &self,
        p: &Proposal,
        pause: Option<&SchedulePause>,
        now: NaiveDateTime,
    ) -> Result<Option<Switched>> {
        let Some(text) = p.finding.resource.tag(&self.tag_key) else { return Ok(None) };
        let schedule = Schedule::parse(text).with_context(|| format!("the approved schedule `{text}`"))?;
        let Some(due) = schedule.transitions((now - CATCH_UP).and_utc(), now.and_utc()).pop() else {
            return Ok(None);
        };
        if !self.store.claim_tick(&format!("offhours:{}", p.id), due.at.naive_utc(), &self.owner).await? {
            return Ok(None);
        }
        // The claim is audited before the cloud is called, so a crash between the call and
        // its outcome record still leaves the switch on the record.
        self.store.append_audit(&self.record(p, due, "offhours_claimed", serde_json::json!({}), now)).await?;
        let approved_dry = matches!(p.state, State::Done { dry_run: true, .. });
        let (recorded, detail) = match pause.filter(|x| x.holds_at(due.at.naive_utc())) {
            // A paused schedule's switch is claimed and recorded as skipped, so it is said once.
            Some(x) => {
                ("offhours_skipped", serde_json::json!({ "reason": format!("paused by {}", x.by), "until": x.until }))
            }
            None => self.decide_and_act(p, &schedule, due, self.dry_run || approved_dry).await,
        };
        self.store.append_audit(&self.record(p, due, recorded, detail, now)).await?;
        tracing::info!(schedule = %p.id, transition = %due.key(), recorded, "off-hours switch");
        Ok(Some(Switched { schedule: p.id.0.clone(), transition: due.key(), recorded: recorded.to_string() }))
    }

    fn record(
        &self,
        p: &Proposal,
        due: Transition,
        action: &str,
        detail: serde_json::Value,
        now: NaiveDateTime,
    ) -> AuditRecord {
        AuditRecord {
            at: now,
            actor: format!("system:{}", self.owner),
            action: action.to_string(),
            target: p.id.0.clone(),
            channel: None,
            detail: serde_json::json!({
                "resource": p.finding.resource.reference.to_string(),
                "transition": due.key(),
                "at": due.at,
                "detail": detail,
            })
            .to_string(),
        }
    }

    /// Describes the resource, decides again, and switches it; the audit action and detail.
    async fn decide_and_act(
        &self,
        p: &Proposal,
        schedule: &Schedule,
        due: Transition,
        dry_run: bool,
    ) -> (&'static str, serde_json::Value) {
        let reference = &p.finding.resource.reference;
        let current = match tokio::time::timeout(CLOUD_WITHIN, self.cloud.describe(reference)).await {
            Ok(Ok(current)) => current,
            Ok(Err(error)) => return ("offhours_failed", serde_json::json!({ "error": format!("{error:#}") })),
            Err(_) => return ("offhours_failed", serde_json::json!({ "error": "describing the resource timed out" })),
        };
        let protected = current.as_ref().and_then(|r| protected_tag(r, &self.policy));
        let decision = decide_transition(
            schedule,
            due.switch,
            current.as_ref().map(|r| r.state.as_str()),
            current.as_ref().map(|r| &r.tags).unwrap_or(&Default::default()),
            &self.tag_key,
            protected.as_deref(),
        );
        let switch = match decision {
            TransitionDecision::Skip(reason) => return ("offhours_skipped", serde_json::json!({ "reason": reason })),
            TransitionDecision::Act(switch) => switch,
        };
        let action = match (reference.kind, switch) {
            (ResourceKind::Ec2Instance, Switch::Stop) => Action::StopInstance,
            (ResourceKind::Ec2Instance, Switch::Start) => Action::StartInstance,
            (ResourceKind::RdsInstance, Switch::Stop) => Action::StopDatabase,
            (ResourceKind::RdsInstance, Switch::Start) => Action::StartDatabase,
            (kind, _) => {
                let reason = format!("a {} cannot follow a schedule", kind.as_str());
                return ("offhours_skipped", serde_json::json!({ "reason": reason }));
            }
        };
        match tokio::time::timeout(CLOUD_WITHIN, self.cloud.act(reference, action, dry_run)).await {
            Ok(Ok(ActOutcome::Done { new_state })) => {
                ("offhours_switched", serde_json::json!({ "action": action, "new_state": new_state }))
            }
            Ok(Ok(ActOutcome::DryRun { detail })) => {
                ("offhours_dry_run", serde_json::json!({ "action": action, "detail": detail }))
            }
            Ok(Err(error)) => {
                ("offhours_failed", serde_json::json!({ "action": action, "error": format!("{error:#}") }))
            }
            // The call may have reached the cloud; the next switch's re-check reads the state.
            Err(_) => ("offhours_failed", serde_json::json!({ "action": action, "error": "the call timed out" })),
        }
    }
}
