//! Cloud resources that can waste money, what costbot may do to them, and the port through
//! which it discovers, re-checks and acts on them. Pure types; the AWS adapter and the
//! simulated cloud implement [`CloudInventory`].

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::{AccountId, Money};

/// What kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// An EC2 instance (`i-…`).
    Ec2Instance,
    /// An EBS volume (`vol-…`).
    EbsVolume,
    /// An Elastic IP (`eipalloc-…`).
    ElasticIp,
    /// An RDS DB instance (its identifier).
    RdsInstance,
    /// An EBS snapshot this account owns (`snap-…`).
    EbsSnapshot,
    /// A manual RDS DB snapshot (its identifier).
    RdsSnapshot,
    /// A NAT gateway (`nat-…`).
    NatGateway,
    /// An Application or Network Load Balancer (Elastic Load Balancing v2; its ARN).
    LoadBalancer,
    /// A Classic Load Balancer (its name).
    ClassicLoadBalancer,
}

/// Every kind, in the order they are listed.
pub const KINDS: [ResourceKind; 9] = [
    ResourceKind::Ec2Instance,
    ResourceKind::EbsVolume,
    ResourceKind::ElasticIp,
    ResourceKind::RdsInstance,
    ResourceKind::EbsSnapshot,
    ResourceKind::RdsSnapshot,
    ResourceKind::NatGateway,
    ResourceKind::LoadBalancer,
    ResourceKind::ClassicLoadBalancer,
];

impl ResourceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Ec2Instance => "ec2_instance",
            ResourceKind::EbsVolume => "ebs_volume",
            ResourceKind::ElasticIp => "elastic_ip",
            ResourceKind::RdsInstance => "rds_instance",
            ResourceKind::EbsSnapshot => "ebs_snapshot",
            ResourceKind::RdsSnapshot => "rds_snapshot",
            ResourceKind::NatGateway => "nat_gateway",
            ResourceKind::LoadBalancer => "load_balancer",
            ResourceKind::ClassicLoadBalancer => "classic_load_balancer",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<ResourceKind> {
        KINDS.into_iter().find(|k| k.as_str() == text)
    }
}

/// Which resource: enough to find it again in AWS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The account it lives in.
    pub account: AccountId,
    /// Its region (`us-east-1`).
    pub region: String,
    /// Its kind.
    pub kind: ResourceKind,
    /// Its id (`i-0abc…`, `vol-…`, `eipalloc-…`, the DB instance identifier, a load
    /// balancer's ARN, or a Classic load balancer's name).
    pub id: String,
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} in {} {}", self.kind.as_str(), self.id, self.account, self.region)
    }
}

/// Recent activity from CloudWatch, summarised over `days`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Activity {
    /// The window the numbers cover.
    pub days: u32,
    /// Highest hourly average CPU, in percent.
    pub max_cpu_percent: Option<f64>,
    /// Network bytes over the window: in plus out for an instance, out to destinations
    /// (`BytesOutToDestination`) for a NAT gateway.
    pub network_bytes: Option<u64>,
    /// Highest hourly average of database connections.
    pub max_db_connections: Option<f64>,
    /// Day by day, the days CloudWatch had datapoints for (oldest first): what the rules that
    /// count days (underutilized instances, idle load balancers) judge.
    #[serde(default)]
    pub daily: Vec<DayActivity>,
    /// A load balancer's healthy targets (registered instances in service, for a Classic one)
    /// when discovery read them; not from CloudWatch but from the load balancer itself.
    #[serde(default)]
    pub healthy_targets: Option<u32>,
}

/// One UTC day of activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayActivity {
    /// The day.
    pub day: NaiveDate,
    /// An instance's CPU averaged over the day's hours with datapoints, in percent.
    pub cpu_percent: Option<f64>,
    /// An instance's network bytes in plus out that day.
    pub network_bytes: Option<u64>,
    /// A load balancer's requests that day (new flows, for a Network Load Balancer).
    pub requests: Option<u64>,
}

/// A resource as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Which resource.
    pub reference: ResourceRef,
    /// AWS's state word: `running`, `stopped`, `available`, `in-use`, `associated`,
    /// `unassociated`, `available` (RDS), `stopped` (RDS), …
    pub state: String,
    /// Tags, keys as AWS has them.
    pub tags: BTreeMap<String, String>,
    /// Launch or creation time.
    pub created_at: Option<NaiveDateTime>,
    /// When it entered its current state, if AWS says (EC2 state transition reason).
    pub state_since: Option<NaiveDateTime>,
    /// Instance class, volume type or DB class (`m5.large`, `gp3`, `db.r6g.large`).
    pub size_class: Option<String>,
    /// Storage size in GiB (volumes, RDS).
    pub storage_gib: Option<u32>,
    /// Estimated monthly cost from the price table; `None` when the type is not in it.
    pub monthly_cost: Option<Money>,
    /// Things that depend on it or that it depends on, in words ("in Auto Scaling group web",
    /// "attached to i-…", "associated with i-…", "has read replica db-2", "used by AMI ami-…",
    /// "taken from volume vol-…, which still exists", "registered in target group web",
    /// "behind Classic load balancer legacy"). Discovery fills in Auto Scaling groups, volume
    /// attachments, address associations, RDS replication, the AMIs and live volumes of
    /// snapshots, the live DB instance of a DB snapshot, and the target groups and Classic
    /// load balancers an instance is registered with (re-read before acting too).
    pub dependencies: Vec<String>,
    /// Recent activity, when fetched.
    pub activity: Option<Activity>,
}

impl Resource {
    /// A tag's value, looked up case-insensitively on the key (people write `owner` and
    /// `Owner`).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// What costbot may do to a resource once a person approved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Stop an EC2 instance (its volumes keep costing, but compute stops).
    StopInstance,
    /// Terminate an EC2 instance.
    TerminateInstance,
    /// Delete an unattached EBS volume.
    DeleteVolume,
    /// Release an unassociated Elastic IP.
    ReleaseAddress,
    /// Stop an RDS instance (AWS restarts it after 7 days).
    StopDatabase,
    /// Delete an RDS instance, taking a final snapshot first.
    DeleteDatabaseWithSnapshot,
    /// Change a gp2 volume's type to gp3 in place (no detach, no downtime).
    ModifyVolumeToGp3,
    /// Delete an EBS snapshot.
    DeleteSnapshot,
    /// Delete a manual RDS DB snapshot.
    DeleteDbSnapshot,
    /// Delete a NAT gateway.
    DeleteNatGateway,
    /// Start a stopped EC2 instance (an off-hours schedule's morning switch).
    StartInstance,
    /// Start a stopped RDS instance (an off-hours schedule's morning switch).
    StartDatabase,
    /// Put an EC2 instance or RDS database on the off-hours schedule its tag names: once
    /// approved, it is stopped and started at each switch of the schedule. Approving it calls
    /// no cloud API; each switch is an action of its own, re-checked and audited.
    OffHours,
    /// Delete a load balancer (Application, Network or Classic); its target groups stay.
    DeleteLoadBalancer,
    /// Stop an instance, change its type to the next smaller size of its family
    /// ([`crate::domain::waste::one_size_down`]), and start it again: downtime.
    ResizeInstance,
    /// Stop an instance, change its type to the same size of its family's current generation
    /// ([`crate::domain::waste::current_generation`]), and start it again: downtime.
    ModernizeInstance,
}

impl Action {
    /// Words for a card: "stop", "terminate", …
    pub fn verb(self) -> &'static str {
        match self {
            Action::StopInstance | Action::StopDatabase => "stop",
            Action::TerminateInstance => "terminate",
            Action::DeleteVolume => "delete",
            Action::ReleaseAddress => "release",
            Action::DeleteDatabaseWithSnapshot => "delete (with a final snapshot)",
            Action::ModifyVolumeToGp3 => "change to gp3",
            Action::DeleteSnapshot
            | Action::DeleteDbSnapshot
            | Action::DeleteNatGateway
            | Action::DeleteLoadBalancer => "delete",
            Action::ResizeInstance => "resize one size down",
            Action::ModernizeInstance => "move to the current generation",
            Action::StartInstance | Action::StartDatabase => "start",
            Action::OffHours => "stop and start on its off-hours schedule",
        }
    }

    /// True when the action cannot be undone. A resize can be undone (by resizing back), so
    /// it is not; it always needs two approvers for its downtime instead (see
    /// [`Action::downtime`]).
    pub fn destructive(self) -> bool {
        !matches!(
            self,
            Action::StopInstance
                | Action::StopDatabase
                | Action::ModifyVolumeToGp3
                | Action::StartInstance
                | Action::StartDatabase
                | Action::OffHours
                | Action::ResizeInstance
                | Action::ModernizeInstance
        )
    }

    /// True when the action stops and restarts what it acts on, so the safety policy always
    /// asks for two approvers.
    pub fn downtime(self) -> bool {
        matches!(self, Action::ResizeInstance | Action::ModernizeInstance)
    }
}

/// How an action went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActOutcome {
    /// Done; the resource's new state as AWS reported it.
    Done {
        /// `stopping`, `shutting-down`, `deleting`, `released`, …
        new_state: String,
    },
    /// Dry run: AWS confirmed the call would have succeeded (EC2 `DryRunOperation`), or, where
    /// AWS has no dry-run flag (RDS), costbot checked the permissions it could and did nothing.
    DryRun {
        /// What would have happened.
        detail: String,
    },
}

/// The port to the cloud for waste: find resources, look at one again right before acting,
/// and act.
#[async_trait]
pub trait CloudInventory: Send + Sync {
    /// Every resource of the kinds above in one account and region, paginated to the end.
    async fn discover(&self, account: &AccountId, region: &str) -> anyhow::Result<Vec<Resource>>;

    /// The resource as it is now, or `None` if it no longer exists.
    async fn describe(&self, resource: &ResourceRef) -> anyhow::Result<Option<Resource>>;

    /// Performs `action`; with `dry_run`, only checks that it would succeed.
    async fn act(&self, resource: &ResourceRef, action: Action, dry_run: bool) -> anyhow::Result<ActOutcome>;
}

/// How carefully a finding must be handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "path", rename_all = "snake_case")]
pub enum SafetyPath {
    /// One allowed approver suffices.
    Normal,
    /// Two different approvers are needed, for the reason given (high cost, recently active,
    /// dependencies).
    Strict {
        /// Why.
        reason: String,
    },
    /// Never proposed (a protected tag, say); kept so the reason can be shown.
    Excluded {
        /// Why.
        reason: String,
    },
}

/// A waste finding: a resource, the rule it broke, the evidence, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasteFinding {
    /// The resource as discovered.
    pub resource: Resource,
    /// The rule's stable id (one of [`crate::domain::waste::RULES`]).
    pub rule: String,
    /// The evidence, in a sentence a person can check.
    pub evidence: String,
    /// What acting would save per month (`None` when the price is unknown).
    pub monthly_saving: Option<Money>,
    /// The proposed action.
    pub action: Action,
    /// The safety policy's verdict.
    pub path: SafetyPath,
}
