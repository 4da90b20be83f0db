//! Version 1 of a stored [`Proposal`]: the shape `serde_json` gave the domain type (with its
//! finding and resource) when versioning began, frozen here.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::domain::chat::{ChannelId, UserId};
use crate::domain::owner::{ChatUser, Owner, TeamRoute};
use crate::domain::proposal::{Approval, Proposal, ProposalId, State};
use crate::domain::resource::{
    Action, Activity, DayActivity, Resource, ResourceKind, ResourceRef, SafetyPath, WasteFinding,
};
use crate::domain::{AccountId, Money};

/// A stored proposal.
#[derive(Debug, Serialize, Deserialize)]
pub(in crate::store) struct StoredProposal {
    id: String,
    version: u32,
    finding: StoredFinding,
    required_approvals: u8,
    approvals: Vec<StoredApproval>,
    state: StoredState,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    /// Added without a version bump: absent in older rows, which were never re-proposed
    /// after a dry run.
    #[serde(default)]
    earlier_dry_run: bool,
    /// Added without a version bump: absent in rows from before owners were resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<StoredOwner>,
}

/// The resolved owner, with platforms as their names and ids as text.
#[derive(Debug, Serialize, Deserialize)]
struct StoredOwner {
    tag: Option<String>,
    /// `(platform, user id)`.
    user: Option<(String, String)>,
    /// `(team, platform, channel id)`.
    team: Option<(String, String, String)>,
    unknown: Option<String>,
}

impl From<&Owner> for StoredOwner {
    fn from(o: &Owner) -> StoredOwner {
        StoredOwner {
            tag: o.tag.clone(),
            user: o.user.as_ref().map(|u| (u.platform.as_str().to_string(), u.id.0.clone())),
            team: o.team.as_ref().map(|t| (t.team.clone(), t.platform.as_str().to_string(), t.channel.0.clone())),
            unknown: o.unknown.clone(),
        }
    }
}

impl TryFrom<StoredOwner> for Owner {
    type Error = anyhow::Error;

    fn try_from(o: StoredOwner) -> Result<Owner> {
        let platform = |p: &str| crate::store::outbox_sql::parse_platform(p);
        Ok(Owner {
            tag: o.tag,
            user: o
                .user
                .map(|(p, id)| Ok::<_, anyhow::Error>(ChatUser { platform: platform(&p)?, id: UserId(id) }))
                .transpose()?,
            team: o
                .team
                .map(|(team, p, channel)| {
                    Ok::<_, anyhow::Error>(TeamRoute { team, platform: platform(&p)?, channel: ChannelId(channel) })
                })
                .transpose()?,
            unknown: o.unknown,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredApproval {
    by: String,
    at: NaiveDateTime,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum StoredState {
    Pending,
    Approved,
    /// Rows written before claims carried their mode and phase read as a real action in
    /// progress: recovery then reads the resource's real state, which is right either way.
    Executing {
        by: String,
        #[serde(default)]
        token: u32,
        until: NaiveDateTime,
        #[serde(default)]
        dry_run: bool,
        #[serde(default = "in_progress")]
        acting: bool,
    },
    Done {
        outcome: String,
        dry_run: bool,
    },
    Aborted {
        reason: String,
    },
    Failed {
        error: String,
    },
    Denied {
        by: String,
    },
    Snoozed {
        by: String,
        until: NaiveDateTime,
    },
    Kept {
        by: String,
        until: NaiveDateTime,
        reason: String,
    },
    Expired,
    Withdrawn,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFinding {
    resource: StoredResource,
    rule: String,
    evidence: String,
    /// An exact decimal, as text.
    monthly_saving: Option<String>,
    action: StoredAction,
    path: StoredPath,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredResource {
    reference: StoredReference,
    state: String,
    tags: BTreeMap<String, String>,
    created_at: Option<NaiveDateTime>,
    state_since: Option<NaiveDateTime>,
    size_class: Option<String>,
    storage_gib: Option<u32>,
    /// An exact decimal, as text.
    monthly_cost: Option<String>,
    dependencies: Vec<String>,
    activity: Option<StoredActivity>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredReference {
    account: String,
    region: String,
    /// `ec2_instance`, `ebs_volume`, `elastic_ip`, `rds_instance`.
    kind: String,
    id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredActivity {
    days: u32,
    max_cpu_percent: Option<f64>,
    network_bytes: Option<u64>,
    max_db_connections: Option<f64>,
    /// Added with the day-counting rules; records written before have none.
    #[serde(default)]
    daily: Vec<StoredDay>,
    #[serde(default)]
    healthy_targets: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredDay {
    day: chrono::NaiveDate,
    cpu_percent: Option<f64>,
    network_bytes: Option<u64>,
    requests: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredAction {
    StopInstance,
    TerminateInstance,
    DeleteVolume,
    ReleaseAddress,
    StopDatabase,
    DeleteDatabaseWithSnapshot,
    ModifyVolumeToGp3,
    DeleteSnapshot,
    DeleteDbSnapshot,
    DeleteNatGateway,
    StartInstance,
    StartDatabase,
    OffHours,
    DeleteLoadBalancer,
    ResizeInstance,
    ModernizeInstance,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "path", rename_all = "snake_case")]
enum StoredPath {
    Normal,
    Strict { reason: String },
    Excluded { reason: String },
}

impl From<&Proposal> for StoredProposal {
    fn from(p: &Proposal) -> StoredProposal {
        StoredProposal {
            id: p.id.0.clone(),
            version: p.version,
            finding: StoredFinding::from(&p.finding),
            required_approvals: p.required_approvals,
            approvals: p.approvals.iter().map(|a| StoredApproval { by: a.by.clone(), at: a.at }).collect(),
            state: StoredState::from(&p.state),
            created_at: p.created_at,
            expires_at: p.expires_at,
            updated_at: p.updated_at,
            earlier_dry_run: p.earlier_dry_run,
            owner: p.owner.as_ref().map(StoredOwner::from),
        }
    }
}

impl TryFrom<StoredProposal> for Proposal {
    type Error = anyhow::Error;

    fn try_from(p: StoredProposal) -> Result<Proposal> {
        Ok(Proposal {
            id: ProposalId(p.id),
            version: p.version,
            finding: WasteFinding::try_from(p.finding)?,
            required_approvals: p.required_approvals,
            approvals: p.approvals.into_iter().map(|a| Approval { by: a.by, at: a.at }).collect(),
            state: State::from(p.state),
            created_at: p.created_at,
            expires_at: p.expires_at,
            updated_at: p.updated_at,
            earlier_dry_run: p.earlier_dry_run,
            owner: p.owner.map(Owner::try_from).transpose()?,
        })
    }
}

impl From<&State> for StoredState {
    fn from(s: &State) -> StoredState {
        match s.clone() {
            State::Pending => StoredState::Pending,
            State::Approved => StoredState::Approved,
            State::Executing { by, token, until, dry_run, acting } => {
                StoredState::Executing { by, token, until, dry_run, acting }
            }
            State::Done { outcome, dry_run } => StoredState::Done { outcome, dry_run },
            State::Aborted { reason } => StoredState::Aborted { reason },
            State::Failed { error } => StoredState::Failed { error },
            State::Denied { by } => StoredState::Denied { by },
            State::Snoozed { by, until } => StoredState::Snoozed { by, until },
            State::Kept { by, until, reason } => StoredState::Kept { by, until, reason },
            State::Expired => StoredState::Expired,
            State::Withdrawn => StoredState::Withdrawn,
        }
    }
}

impl From<StoredState> for State {
    fn from(s: StoredState) -> State {
        match s {
            StoredState::Pending => State::Pending,
            StoredState::Approved => State::Approved,
            StoredState::Executing { by, token, until, dry_run, acting } => {
                State::Executing { by, token, until, dry_run, acting }
            }
            StoredState::Done { outcome, dry_run } => State::Done { outcome, dry_run },
            StoredState::Aborted { reason } => State::Aborted { reason },
            StoredState::Failed { error } => State::Failed { error },
            StoredState::Denied { by } => State::Denied { by },
            StoredState::Snoozed { by, until } => State::Snoozed { by, until },
            StoredState::Kept { by, until, reason } => State::Kept { by, until, reason },
            StoredState::Expired => State::Expired,
            StoredState::Withdrawn => State::Withdrawn,
        }
    }
}

fn in_progress() -> bool {
    true
}

fn money_text(m: Option<Money>) -> Option<String> {
    m.map(String::from)
}

fn money(text: Option<String>) -> Result<Option<Money>> {
    text.map(|t| Money::parse(&t).with_context(|| format!("`{t}` is not an amount"))).transpose()
}

impl From<&WasteFinding> for StoredFinding {
    fn from(f: &WasteFinding) -> StoredFinding {
        let r = &f.resource;
        let resource = StoredResource {
            reference: StoredReference {
                account: r.reference.account.to_string(),
                region: r.reference.region.clone(),
                kind: r.reference.kind.as_str().to_string(),
                id: r.reference.id.clone(),
            },
            state: r.state.clone(),
            tags: r.tags.clone(),
            created_at: r.created_at,
            state_since: r.state_since,
            size_class: r.size_class.clone(),
            storage_gib: r.storage_gib,
            monthly_cost: money_text(r.monthly_cost),
            dependencies: r.dependencies.clone(),
            activity: r.activity.as_ref().map(|a| StoredActivity {
                days: a.days,
                max_cpu_percent: a.max_cpu_percent,
                network_bytes: a.network_bytes,
                max_db_connections: a.max_db_connections,
                daily: a
                    .daily
                    .iter()
                    .map(|d| StoredDay {
                        day: d.day,
                        cpu_percent: d.cpu_percent,
                        network_bytes: d.network_bytes,
                        requests: d.requests,
                    })
                    .collect(),
                healthy_targets: a.healthy_targets,
            }),
        };
        StoredFinding {
            resource,
            rule: f.rule.clone(),
            evidence: f.evidence.clone(),
            monthly_saving: money_text(f.monthly_saving),
            action: match f.action {
                Action::StopInstance => StoredAction::StopInstance,
                Action::TerminateInstance => StoredAction::TerminateInstance,
                Action::DeleteVolume => StoredAction::DeleteVolume,
                Action::ReleaseAddress => StoredAction::ReleaseAddress,
                Action::StopDatabase => StoredAction::StopDatabase,
                Action::DeleteDatabaseWithSnapshot => StoredAction::DeleteDatabaseWithSnapshot,
                Action::ModifyVolumeToGp3 => StoredAction::ModifyVolumeToGp3,
                Action::DeleteSnapshot => StoredAction::DeleteSnapshot,
                Action::DeleteDbSnapshot => StoredAction::DeleteDbSnapshot,
                Action::DeleteNatGateway => StoredAction::DeleteNatGateway,
                Action::StartInstance => StoredAction::StartInstance,
                Action::StartDatabase => StoredAction::StartDatabase,
                Action::OffHours => StoredAction::OffHours,
                Action::DeleteLoadBalancer => StoredAction::DeleteLoadBalancer,
                Action::ResizeInstance => StoredAction::ResizeInstance,
                Action::ModernizeInstance => StoredAction::ModernizeInstance,
            },
            path: match &f.path {
                SafetyPath::Normal => StoredPath::Normal,
                SafetyPath::Strict { reason } => StoredPath::Strict { reason: reason.clone() },
                SafetyPath::Excluded { reason } => StoredPath::Excluded { reason: reason.clone() },
            },
        }
    }
}

impl TryFrom<StoredFinding> for WasteFinding {
    type Error = anyhow::Error;

    fn try_from(f: StoredFinding) -> Result<WasteFinding> {
        let r = f.resource;
        let kind = ResourceKind::parse(&r.reference.kind)
            .with_context(|| format!("`{}` is not a resource kind", r.reference.kind))?;
        let resource = Resource {
            reference: ResourceRef {
                account: AccountId::parse(&r.reference.account)?,
                region: r.reference.region,
                kind,
                id: r.reference.id,
            },
            state: r.state,
            tags: r.tags,
            created_at: r.created_at,
            state_since: r.state_since,
            size_class: r.size_class,
            storage_gib: r.storage_gib,
            monthly_cost: money(r.monthly_cost)?,
            dependencies: r.dependencies,
            activity: r.activity.map(|a| Activity {
                days: a.days,
                max_cpu_percent: a.max_cpu_percent,
                network_bytes: a.network_bytes,
                max_db_connections: a.max_db_connections,
                daily: a
                    .daily
                    .into_iter()
                    .map(|d| DayActivity {
                        day: d.day,
                        cpu_percent: d.cpu_percent,
                        network_bytes: d.network_bytes,
                        requests: d.requests,
                    })
                    .collect(),
                healthy_targets: a.healthy_targets,
            }),
        };
        Ok(WasteFinding {
            resource,
            rule: f.rule,
            evidence: f.evidence,
            monthly_saving: money(f.monthly_saving)?,
            action: match f.action {
                StoredAction::StopInstance => Action::StopInstance,
                StoredAction::TerminateInstance => Action::TerminateInstance,
                StoredAction::DeleteVolume => Action::DeleteVolume,
                StoredAction::ReleaseAddress => Action::ReleaseAddress,
                StoredAction::StopDatabase => Action::StopDatabase,
                StoredAction::DeleteDatabaseWithSnapshot => Action::DeleteDatabaseWithSnapshot,
                StoredAction::ModifyVolumeToGp3 => Action::ModifyVolumeToGp3,
                StoredAction::DeleteSnapshot => Action::DeleteSnapshot,
                StoredAction::DeleteDbSnapshot => Action::DeleteDbSnapshot,
                StoredAction::DeleteNatGateway => Action::DeleteNatGateway,
                StoredAction::StartInstance => Action::StartInstance,
                StoredAction::StartDatabase => Action::StartDatabase,
                StoredAction::OffHours => Action::OffHours,
                StoredAction::DeleteLoadBalancer => Action::DeleteLoadBalancer,
                StoredAction::ResizeInstance => Action::ResizeInstance,
                StoredAction::ModernizeInstance => Action::ModernizeInstance,
            },
            path: match f.path {
                StoredPath::Normal => SafetyPath::Normal,
                StoredPath::Strict { reason } => SafetyPath::Strict { reason },
                StoredPath::Excluded { reason } => SafetyPath::Excluded { reason },
            },
        })
    }
}

/// The JSON to store for a proposal.
pub(in crate::store) fn encode_proposal(proposal: &Proposal) -> Result<String> {
    super::encode(&StoredProposal::from(proposal))
}

/// The proposal a stored JSON record holds.
pub(in crate::store) fn decode_proposal(text: &str) -> Result<Proposal> {
    Proposal::try_from(super::decode::<StoredProposal>(text, "proposal")?)
}
