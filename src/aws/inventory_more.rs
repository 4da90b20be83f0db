//! The resource kinds beyond instances, volumes, addresses and databases: EBS snapshots (with
//! the AMIs that use them), manual RDS snapshots and NAT gateways. Each list is read only when
//! a rule that looks at it is enabled, so turning a rule off also saves its requests.

use std::collections::HashSet;

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{Image, NatGateway, Snapshot};
use aws_sdk_rds::types::DbSnapshot;

use super::inventory::{blank, ec2_tags, rds_tags, reference, time, AwsInventory};
use super::inventory_act::{code, ec2_outcome, sdk_error, NOT_FOUND};
use crate::domain::resource::{ActOutcome, Action, Resource, ResourceKind, ResourceRef};
use crate::domain::AccountId;

/// What discovery already knows about one account and region, for dependencies.
pub(super) struct Known<'a> {
    /// Volume ids that exist.
    pub(super) volumes: HashSet<&'a str>,
    /// DB instance identifiers that exist.
    pub(super) databases: HashSet<&'a str>,
}

impl AwsInventory {
    /// EBS snapshots this account owns, every page.
    pub(super) async fn snapshots(&self, ec2: &aws_sdk_ec2::Client) -> Result<Vec<Snapshot>> {
        let mut pages =
            ec2.describe_snapshots().owner_ids("self").set_max_results(self.page_size()).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| sdk_error("ec2:DescribeSnapshots", e))?.snapshots().iter().cloned());
        }
        Ok(out)
    }

    /// AMIs this account owns, every page.
    pub(super) async fn images(&self, ec2: &aws_sdk_ec2::Client) -> Result<Vec<Image>> {
        let mut pages = ec2.describe_images().owners("self").into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| sdk_error("ec2:DescribeImages", e))?.images().iter().cloned());
        }
        Ok(out)
    }

    /// Manual RDS snapshots (automated ones go with their retention period), every page.
    pub(super) async fn db_snapshots(&self, rds: &aws_sdk_rds::Client) -> Result<Vec<DbSnapshot>> {
        let page_size = self.page_size().map(|s| s.max(20));
        let mut pages =
            rds.describe_db_snapshots().snapshot_type("manual").set_max_records(page_size).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| sdk_error("rds:DescribeDBSnapshots", e))?.db_snapshots().iter().cloned());
        }
        Ok(out)
    }

    /// NAT gateways, every page.
    pub(super) async fn nat_gateways(&self, ec2: &aws_sdk_ec2::Client) -> Result<Vec<NatGateway>> {
        let page_size = self.page_size().map(|s| s.max(5));
        let mut pages = ec2.describe_nat_gateways().set_max_results(page_size).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| sdk_error("ec2:DescribeNatGateways", e))?.nat_gateways().iter().cloned());
        }
        Ok(out)
    }

    /// An EBS snapshot, with the AMIs that use it and its source volume if that still exists
    /// as dependencies. Its cost is at most its volume's size in snapshot storage.
    pub(super) fn snapshot(
        &self,
        account: &AccountId,
        region: &str,
        s: &Snapshot,
        images: &[Image],
        volumes: &HashSet<&str>,
    ) -> Option<Resource> {
        let id = s.snapshot_id()?;
        let mut r = blank(reference(account, region, ResourceKind::EbsSnapshot, id), s.state()?.as_str());
        r.tags = ec2_tags(s.tags());
        r.created_at = time(s.start_time());
        r.storage_gib = s.volume_size().and_then(|g| u32::try_from(g).ok());
        r.monthly_cost = r.storage_gib.map(|g| self.prices.ebs_snapshot_monthly(g));
        for image in images {
            let uses = image.block_device_mappings().iter().any(|m| m.ebs().and_then(|e| e.snapshot_id()) == Some(id));
            if let (true, Some(ami)) = (uses, image.image_id()) {
                r.dependencies.push(format!("used by AMI {ami}"));
            }
        }
        if let Some(volume) = s.volume_id().filter(|v| volumes.contains(v)) {
            r.dependencies.push(format!("taken from volume {volume}, which still exists"));
        }
        Some(r)
    }

    /// A manual DB snapshot; its database, if it still exists, is a dependency.
    pub(super) fn db_snapshot(
        &self,
        account: &AccountId,
        region: &str,
        s: &DbSnapshot,
        databases: &HashSet<&str>,
    ) -> Option<Resource> {
        let id = s.db_snapshot_identifier()?;
        let mut r = blank(reference(account, region, ResourceKind::RdsSnapshot, id), s.status()?);
        r.tags = rds_tags(s.tag_list());
        r.created_at = time(s.snapshot_create_time());
        r.storage_gib = s.allocated_storage().and_then(|g| u32::try_from(g).ok());
        r.monthly_cost = r.storage_gib.map(|g| self.prices.rds_snapshot_monthly(g));
        if let Some(db) = s.db_instance_identifier().filter(|d| databases.contains(d)) {
            r.dependencies.push(format!("of DB instance {db}, which still exists"));
        }
        Some(r)
    }

    /// A NAT gateway (deleted ones are skipped by the caller: they cost nothing).
    pub(super) fn nat_gateway(&self, account: &AccountId, region: &str, n: &NatGateway) -> Option<Resource> {
        let state = n.state()?.as_str();
        let mut r = blank(reference(account, region, ResourceKind::NatGateway, n.nat_gateway_id()?), state);
        r.tags = ec2_tags(n.tags());
        r.created_at = time(n.create_time());
        r.monthly_cost = Some(self.prices.nat_gateway_monthly());
        Some(r)
    }

    /// Reads the optional kinds the enabled rules need, all at once.
    pub(super) async fn more(
        &self,
        account: &AccountId,
        region: &str,
        ec2: &aws_sdk_ec2::Client,
        rds: &aws_sdk_rds::Client,
        known: &Known<'_>,
    ) -> Result<Vec<Resource>> {
        let rules = self.rules();
        let (snapshots, db_snapshots, nat_gateways) = tokio::try_join!(
            async {
                if !rules.enabled("old_snapshot") {
                    return Ok(Vec::new());
                }
                let (snapshots, images) = tokio::try_join!(self.snapshots(ec2), self.images(ec2))?;
                Ok::<_, anyhow::Error>(
                    snapshots
                        .iter()
                        .filter_map(|s| self.snapshot(account, region, s, &images, &known.volumes))
                        .collect::<Vec<_>>(),
                )
            },
            async {
                if !rules.enabled("orphaned_db_snapshot") {
                    return Ok(Vec::new());
                }
                let list = self.db_snapshots(rds).await?;
                Ok::<_, anyhow::Error>(
                    list.iter().filter_map(|s| self.db_snapshot(account, region, s, &known.databases)).collect(),
                )
            },
            async {
                if !rules.enabled("idle_nat_gateway") {
                    return Ok(Vec::new());
                }
                let list = self.nat_gateways(ec2).await?;
                Ok::<_, anyhow::Error>(
                    list.iter()
                        .filter_map(|n| self.nat_gateway(account, region, n))
                        .filter(|r| r.state != "deleted")
                        .collect(),
                )
            },
        )?;
        Ok(snapshots.into_iter().chain(db_snapshots).chain(nat_gateways).collect())
    }
}

impl AwsInventory {
    /// One snapshot or NAT gateway as it is now, dependencies re-read, or `None` if gone.
    pub(super) async fn describe_more(&self, r: &ResourceRef) -> Result<Option<Resource>> {
        let (account, region) = (&r.account, r.region.as_str());
        let ec2 = self.ec2(account, region)?;
        match r.kind {
            ResourceKind::EbsSnapshot => {
                let found = match ec2.describe_snapshots().snapshot_ids(&r.id).send().await {
                    Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                    other => other.map_err(|e| sdk_error("ec2:DescribeSnapshots", e))?,
                };
                let Some(snapshot) = found.snapshots().first() else { return Ok(None) };
                // An account has few AMIs of its own; filtering them here needs no filter
                // support from the API (moto has none for block-device-mapping.snapshot-id).
                let images = self.images(&ec2).await?;
                let mut volumes = HashSet::new();
                if let Some(volume) = snapshot.volume_id() {
                    match ec2.describe_volumes().volume_ids(volume).send().await {
                        Ok(out) if !out.volumes().is_empty() => {
                            volumes.insert(volume);
                        }
                        Ok(_) => {}
                        Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => {}
                        Err(e) => return Err(sdk_error("ec2:DescribeVolumes", e)),
                    }
                }
                Ok(self.snapshot(account, region, snapshot, &images, &volumes))
            }
            ResourceKind::RdsSnapshot => {
                let rds = self.rds(account, region)?;
                let found = match rds.describe_db_snapshots().db_snapshot_identifier(&r.id).send().await {
                    Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                    other => other.map_err(|e| sdk_error("rds:DescribeDBSnapshots", e))?,
                };
                let Some(snapshot) = found.db_snapshots().first() else { return Ok(None) };
                let mut databases = HashSet::new();
                if let Some(db) = snapshot.db_instance_identifier() {
                    match rds.describe_db_instances().db_instance_identifier(db).send().await {
                        Ok(out) if !out.db_instances().is_empty() => {
                            databases.insert(db);
                        }
                        Ok(_) => {}
                        Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => {}
                        Err(e) => return Err(sdk_error("rds:DescribeDBInstances", e)),
                    }
                }
                Ok(self.db_snapshot(account, region, snapshot, &databases))
            }
            ResourceKind::NatGateway => {
                let found = match ec2.describe_nat_gateways().nat_gateway_ids(&r.id).send().await {
                    Err(e) if code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                    other => other.map_err(|e| sdk_error("ec2:DescribeNatGateways", e))?,
                };
                Ok(found.nat_gateways().first().and_then(|n| self.nat_gateway(account, region, n)))
            }
            kind => bail!("{} is not a snapshot or NAT gateway", kind.as_str()),
        }
    }

    /// Changes a gp2 volume to gp3, or deletes a snapshot or NAT gateway. EC2 calls honour
    /// `DryRun`; RDS has none, so a dry run there only checks the snapshot exists.
    pub(super) async fn act_more(&self, r: &ResourceRef, action: Action, dry_run: bool) -> Result<ActOutcome> {
        let (account, region) = (&r.account, r.region.as_str());
        match action {
            Action::ModifyVolumeToGp3 => {
                let result = self
                    .ec2(account, region)?
                    .modify_volume()
                    .volume_id(&r.id)
                    .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
                    .dry_run(dry_run)
                    .send()
                    .await;
                ec2_outcome("ec2:ModifyVolume", r, result, |_| "modifying".to_string())
            }
            Action::DeleteSnapshot => {
                let result =
                    self.ec2(account, region)?.delete_snapshot().snapshot_id(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:DeleteSnapshot", r, result, |_| "deleted".to_string())
            }
            Action::DeleteNatGateway => {
                let result =
                    self.ec2(account, region)?.delete_nat_gateway().nat_gateway_id(&r.id).dry_run(dry_run).send().await;
                ec2_outcome("ec2:DeleteNatGateway", r, result, |_| "deleting".to_string())
            }
            Action::DeleteDbSnapshot => {
                let Some(current) = self.describe_more(r).await? else {
                    bail!("DB snapshot {} does not exist (any more)", r.id)
                };
                if dry_run {
                    return Ok(ActOutcome::DryRun {
                        detail: format!(
                            "would delete DB snapshot {} (now {}); RDS has no dry-run flag, so only its existence was checked",
                            r.id, current.state
                        ),
                    });
                }
                let out = self
                    .rds(account, region)?
                    .delete_db_snapshot()
                    .db_snapshot_identifier(&r.id)
                    .send()
                    .await
                    .map_err(|e| sdk_error("rds:DeleteDBSnapshot", e))?;
                let state = out.db_snapshot().and_then(|s| s.status()).unwrap_or("deleted").to_string();
                Ok(ActOutcome::Done { new_state: state })
            }
            other => bail!("cannot {} a {}", other.verb(), r.kind.as_str()),
        }
    }
}
