//! Describing one resource again and acting on it, for [`AwsInventory`].
//!
//! EC2 calls pass `DryRun` when asked, and AWS answers `DryRunOperation` when the call would
//! have succeeded (permissions included). RDS has no dry-run flag, so a dry run there describes
//! the database and stops short of the mutating call.

use std::fmt::Debug;

use anyhow::{bail, Result};
use aws_sdk_ec2::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::NaiveDateTime;

use super::inventory::AwsInventory;
use crate::domain::resource::{ActOutcome, Action, Resource, ResourceKind, ResourceRef};

/// A failed AWS call, for callers that branch on why.
#[derive(Debug, thiserror::Error)]
pub enum AwsCallError {
    /// The credentials lack a permission; the operator must grant it (see
    /// `deploy/iam/costbot-waste.json`).
    #[error("missing IAM permission {permission}: AWS answered {code}: {message}")]
    MissingPermission {
        /// The IAM action, like `ec2:StopInstances`.
        permission: String,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Any other failure, with AWS's full error text.
    #[error("{call} failed: {detail}")]
    Failed {
        /// The IAM action of the call.
        call: String,
        /// The error and its sources.
        detail: String,
    },
}

/// Error codes that mean "the credentials may not do this".
const DENIED: [&str; 3] = ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException"];

/// Turns an SDK error into an [`AwsCallError`] naming the call (written as its IAM action).
pub(super) fn sdk_error<E, R>(call: &str, error: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match error.code() {
        Some(code) if DENIED.contains(&code) => AwsCallError::MissingPermission {
            permission: call.to_string(),
            code: code.to_string(),
            message: error.message().unwrap_or_default().to_string(),
        }
        .into(),
        _ => AwsCallError::Failed { call: call.to_string(), detail: DisplayErrorContext(&error).to_string() }.into(),
    }
}

/// The error code of a failed call, if AWS sent one.
pub(super) fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error.code()
}

/// Codes meaning the resource no longer exists.
pub(super) const NOT_FOUND: [&str; 12] = [
    "InvalidInstanceID.NotFound",
    "InvalidVolume.NotFound",
    "InvalidAllocationID.NotFound",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "InvalidSnapshot.NotFound",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "NatGatewayNotFound",
    "InvalidNatGatewayID.NotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
];

/// The final snapshot's name: `costbot-final-<db>-<yyyymmddhhmm>` (UTC).
pub fn final_snapshot_id(db: &str, now: NaiveDateTime) -> String {
    format!("costbot-final-{db}-{}", now.format("%Y%m%d%H%M"))
}

/// How an EC2 call with a dry-run flag ended: done, dry run confirmed, or an error.
pub(super) fn ec2_outcome<T, E, R>(
    call: &str,
    r: &ResourceRef,
    result: Result<T, SdkError<E, R>>,
    new_state: impl FnOnce(T) -> String,
) -> Result<ActOutcome>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(ActOutcome::Done { new_state: new_state(output) }),
        Err(e) if code(&e) == Some("DryRunOperation") => {
            Ok(ActOutcome::DryRun { detail: format!("AWS confirmed that {call} on {} would succeed", r.id) })
        }
        Err(e) => Err(sdk_error(call, e)),
    }
}

fn state_change_name(changes: &[aws_sdk_ec2::types::InstanceStateChange]) -> String {
    changes
        .first()
        .and_then(|c| c.current_state())
        .and_then(|s| s.name())
        .map_or_else(|| "unknown".to_string(), |n| n.as_str().to_string())
}

impl AwsInventory {
    pub(super) async fn describe_one(&self, r: &ResourceRef) -> Result<Option<Resource>> {
        let (account, region) = (&r.account, r.region.as_str());
        match r.kind {
            ResourceKind::Ec2Instance => {
                let client = self.ec2(account, region)?;
                let found = match client.describe_instances().instance_ids(&r.id).send().await {
                    Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                    other => other.map_err(|e| sdk_error("ec2:DescribeInstances", e))?,
                };
                let Some(instance) = found.reservations().iter().flat_map(|x| x.instances()).next().cloned() else {
                    return Ok(None);
                };
                let attached = client
                    .describe_volumes()
                    .filters(aws_sdk_ec2::types::Filter::builder().name("attachment.instance-id").values(&r.id).build())
                    .send()
                    .await
                    .map_err(|e| sdk_error("ec2:DescribeVolumes", e))?;
                let volumes: Vec<Resource> =
                    attached.volumes().iter().filter_map(|v| self.volume(account, region, v)).collect();
                let Some(mut found) = self.instance(account, region, &instance, &self.storage_by_instance(&volumes))
                else {
                    return Ok(None);
                };
                // Registered behind a load balancer since discovery? Then it is a dependency now.
                found.dependencies.extend(self.memberships_of(account, region, &r.id).await?);
                Ok(Some(found))
            }
            ResourceKind::EbsVolume => {
                let found = match self.ec2(account, region)?.describe_volumes().volume_ids(&r.id).send().await {
                    Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                    other => other.map_err(|e| sdk_error("ec2:DescribeVolumes", e))?,
                };
                Ok(found.volumes().first().and_then(|v| self.volume(account, region, v)))
            }
            ResourceKind::ElasticIp => {
                let found = match self.ec2(account, region)?.describe_addresses().allocation_ids(&r.id).send().await {
                    Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                    other => other.map_err(|e| sdk_error("ec2:DescribeAddresses", e))?,
                };
                Ok(found.addresses().first().and_then(|a| self.address(account, region, a)))
            }
            ResourceKind::EbsSnapshot | ResourceKind::RdsSnapshot | ResourceKind::NatGateway => {
                self.describe_more(r).await
            }
            ResourceKind::LoadBalancer | ResourceKind::ClassicLoadBalancer => self.describe_lb(r).await,
            ResourceKind::RdsInstance => {
                let found =
                    match self.rds(account, region)?.describe_db_instances().db_instance_identifier(&r.id).send().await
                    {
                        Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                        other => other.map_err(|e| sdk_error("rds:DescribeDBInstances", e))?,
                    };
                Ok(found.db_instances().first().and_then(|d| self.database(account, region, d)))
            }
        }
    }

    pub(super) async fn act_on(&self, r: &ResourceRef, action: Action, dry_run: bool) -> Result<ActOutcome> {
        let (account, region) = (&r.account, r.region.as_str());
        match (r.kind, action) {
            (ResourceKind::Ec2Instance, Action::StopInstance) => {
                let result =
                    self.ec2(account, region)?.stop_instances().instance_ids(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:StopInstances", r, result, |o| state_change_name(o.stopping_instances()))
            }
            (ResourceKind::Ec2Instance, Action::StartInstance) => {
                let result =
                    self.ec2(account, region)?.start_instances().instance_ids(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:StartInstances", r, result, |o| state_change_name(o.starting_instances()))
            }
            (ResourceKind::Ec2Instance, Action::TerminateInstance) => {
                let result =
                    self.ec2(account, region)?.terminate_instances().instance_ids(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:TerminateInstances", r, result, |o| state_change_name(o.terminating_instances()))
            }
            (ResourceKind::EbsVolume, Action::DeleteVolume) => {
                let result = self.ec2(account, region)?.delete_volume().volume_id(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:DeleteVolume", r, result, |_| "deleted".to_string())
            }
            (ResourceKind::ElasticIp, Action::ReleaseAddress) => {
                let result =
                    self.ec2(account, region)?.release_address().allocation_id(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:ReleaseAddress", r, result, |_| "released".to_string())
            }
            (
                ResourceKind::RdsInstance,
                Action::StopDatabase | Action::StartDatabase | Action::DeleteDatabaseWithSnapshot,
            ) => self.act_on_database(r, action, dry_run).await,
            (ResourceKind::EbsVolume, Action::ModifyVolumeToGp3)
            | (ResourceKind::EbsSnapshot, Action::DeleteSnapshot)
            | (ResourceKind::RdsSnapshot, Action::DeleteDbSnapshot)
            | (ResourceKind::NatGateway, Action::DeleteNatGateway) => self.act_more(r, action, dry_run).await,
            (ResourceKind::LoadBalancer | ResourceKind::ClassicLoadBalancer, Action::DeleteLoadBalancer) => {
                self.delete_lb(r, dry_run).await
            }
            (ResourceKind::Ec2Instance, Action::ResizeInstance | Action::ModernizeInstance) => {
                self.resize(r, action, dry_run).await
            }
            (kind, action) => bail!("cannot {} a {}", action.verb(), kind.as_str()),
        }
    }

    async fn act_on_database(&self, r: &ResourceRef, action: Action, dry_run: bool) -> Result<ActOutcome> {
        let Some(current) = self.describe_one(r).await? else { bail!("database {} does not exist (any more)", r.id) };
        let client = self.rds(&r.account, &r.region)?;
        let snapshot = final_snapshot_id(&r.id, chrono::Utc::now().naive_utc());
        if dry_run {
            let what = match action {
                Action::StopDatabase => format!("would stop db {} (now {})", r.id, current.state),
                Action::StartDatabase => format!("would start db {} (now {})", r.id, current.state),
                _ => format!("would delete db {} (now {}) after a final snapshot {snapshot}", r.id, current.state),
            };
            // Say plainly what was and was not checked, since RDS cannot confirm permissions.
            return Ok(ActOutcome::DryRun {
                detail: format!("{what}; RDS has no dry-run flag, so only its existence was checked"),
            });
        }
        let database = if action == Action::StartDatabase {
            let out = client
                .start_db_instance()
                .db_instance_identifier(&r.id)
                .send()
                .await
                .map_err(|e| sdk_error("rds:StartDBInstance", e))?;
            out.db_instance().cloned()
        } else if action == Action::StopDatabase {
            let out = client
                .stop_db_instance()
                .db_instance_identifier(&r.id)
                .send()
                .await
                .map_err(|e| sdk_error("rds:StopDBInstance", e))?;
            out.db_instance().cloned()
        } else {
            let out = client
                .delete_db_instance()
                .db_instance_identifier(&r.id)
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(&snapshot)
                .send()
                .await
                .map_err(|e| sdk_error("rds:DeleteDBInstance", e))?;
            out.db_instance().cloned()
        };
        let new_state =
            database.and_then(|d| d.db_instance_status().map(str::to_string)).unwrap_or_else(|| "unknown".to_string());
        Ok(ActOutcome::Done { new_state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_snapshots_are_named_after_the_db_and_the_minute() {
        let now: NaiveDateTime = "2026-11-25T09:07:59".parse().unwrap();
        assert_eq!(final_snapshot_id("reports-dev", now), "costbot-final-reports-dev-202611250907");
    }
}
