//! Load balancers for [`AwsInventory`]: Application and Network Load Balancers (Elastic Load
//! Balancing v2) and Classic ones, each with its healthy targets and tags, and the instances
//! registered behind them, which become those instances' dependencies.
//!
//! Per account and region this reads every page of the load balancers and target groups,
//! one `DescribeTargetHealth` per target group and one `DescribeInstanceHealth` per Classic
//! load balancer with instances (AWS has no batch form of either), and the tags 20 load
//! balancers a request. The membership half (target groups, Classic load balancers) is read
//! again when one instance is re-checked before acting, so an instance registered since
//! discovery is never terminated.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use aws_sdk_elasticloadbalancing::types::LoadBalancerDescription;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancer, TargetGroup};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::inventory::{blank, reference, time, AwsInventory};
use super::inventory_act::{code, sdk_error, NOT_FOUND};
use crate::domain::resource::{ActOutcome, Activity, Resource, ResourceKind, ResourceRef};
use crate::domain::AccountId;

/// Target health (or instance health) requests in flight at once per account and region.
const HEALTH_CONCURRENCY: usize = 4;

/// The most load balancers one `DescribeTags` request may name (both APIs).
const TAGS_PER_REQUEST: usize = 20;

/// A target group with its registered targets.
struct Group {
    name: String,
    load_balancers: Vec<String>,
    /// True for groups of instances (not IP addresses, Lambda functions or load balancers).
    instances: bool,
    /// Target id → its health state (`healthy`, `unhealthy`, `unused`, `draining`, …).
    targets: Vec<(String, String)>,
}

/// A Classic load balancer with its instances and their states (`InService`, …).
struct Classic {
    description: LoadBalancerDescription,
    instances: Vec<(String, String)>,
}

/// What one account and region's load balancers tell discovery.
#[derive(Default)]
pub(super) struct LoadBalancers {
    /// The load balancers themselves (Application, Network and Classic).
    pub(super) resources: Vec<Resource>,
    /// Instance id → what it is registered with, in words.
    pub(super) memberships: HashMap<String, Vec<String>>,
}

fn memberships(groups: &[Group], classics: &[Classic]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for group in groups.iter().filter(|g| g.instances) {
        for (id, _) in &group.targets {
            out.entry(id.clone()).or_default().push(format!("registered in target group {}", group.name));
        }
    }
    for classic in classics {
        let name = classic.description.load_balancer_name().unwrap_or("?");
        for (id, _) in &classic.instances {
            out.entry(id.clone()).or_default().push(format!("behind Classic load balancer {name}"));
        }
    }
    out
}

impl AwsInventory {
    fn elbv2(&self, account: &AccountId, region: &str) -> Result<aws_sdk_elasticloadbalancingv2::Client> {
        let config = aws_sdk_elasticloadbalancingv2::config::Builder::from(&self.sdk(account, region)?)
            .retry_partition(super::inventory::retry_partition("elbv2", account, region))
            .build();
        Ok(aws_sdk_elasticloadbalancingv2::Client::from_conf(config))
    }

    fn elb(&self, account: &AccountId, region: &str) -> Result<aws_sdk_elasticloadbalancing::Client> {
        let config = aws_sdk_elasticloadbalancing::config::Builder::from(&self.sdk(account, region)?)
            .retry_partition(super::inventory::retry_partition("elb", account, region))
            .build();
        Ok(aws_sdk_elasticloadbalancing::Client::from_conf(config))
    }

    /// Target groups (all, or one load balancer's) with their targets' health.
    async fn groups(&self, account: &AccountId, region: &str, of: Option<&str>) -> Result<Vec<Group>> {
        let elbv2 = self.elbv2(account, region)?;
        let mut pages =
            elbv2.describe_target_groups().set_load_balancer_arn(of.map(str::to_string)).into_paginator().send();
        let mut listed: Vec<TargetGroup> = Vec::new();
        while let Some(page) = pages.next().await {
            listed.extend(
                page.map_err(|e| sdk_error("elasticloadbalancing:DescribeTargetGroups", e))?
                    .target_groups()
                    .iter()
                    .cloned(),
            );
        }
        stream::iter(listed)
            .map(|g| {
                let elbv2 = &elbv2;
                async move {
                    let arn = g.target_group_arn().unwrap_or_default();
                    let health = elbv2
                        .describe_target_health()
                        .target_group_arn(arn)
                        .send()
                        .await
                        .map_err(|e| sdk_error("elasticloadbalancing:DescribeTargetHealth", e))?;
                    let targets = health
                        .target_health_descriptions()
                        .iter()
                        .filter_map(|d| {
                            let id = d.target()?.id()?.to_string();
                            let state = d.target_health().and_then(|h| h.state()).map_or("unknown", |s| s.as_str());
                            Some((id, state.to_string()))
                        })
                        .collect();
                    Ok::<_, anyhow::Error>(Group {
                        name: g.target_group_name().unwrap_or(arn).to_string(),
                        load_balancers: g.load_balancer_arns().to_vec(),
                        instances: g.target_type().is_none_or(|t| t.as_str() == "instance"),
                        targets,
                    })
                }
            })
            .buffer_unordered(HEALTH_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Classic load balancers (all, or the one named) with their instances' health. `None`
    /// when the one named does not exist.
    async fn classics(&self, account: &AccountId, region: &str, named: Option<&str>) -> Result<Option<Vec<Classic>>> {
        let elb = self.elb(account, region)?;
        let mut pages = elb
            .describe_load_balancers()
            .set_load_balancer_names(named.map(|n| vec![n.to_string()]))
            .set_page_size(self.page_size())
            .into_paginator()
            .send();
        let mut listed = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Err(e) if named.is_some() && code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
                page => listed.extend(
                    page.map_err(|e| sdk_error("elasticloadbalancing:DescribeLoadBalancers", e))?
                        .load_balancer_descriptions()
                        .iter()
                        .cloned(),
                ),
            }
        }
        let classics = stream::iter(listed)
            .map(|description| {
                let elb = &elb;
                async move {
                    // No instance, no health to ask about.
                    if description.instances().is_empty() {
                        return Ok(Classic { description, instances: Vec::new() });
                    }
                    let name = description.load_balancer_name().unwrap_or_default();
                    let health = elb
                        .describe_instance_health()
                        .load_balancer_name(name)
                        .send()
                        .await
                        .map_err(|e| sdk_error("elasticloadbalancing:DescribeInstanceHealth", e))?;
                    let instances = health
                        .instance_states()
                        .iter()
                        .filter_map(|s| {
                            Some((s.instance_id()?.to_string(), s.state().unwrap_or("Unknown").to_string()))
                        })
                        .collect();
                    Ok::<_, anyhow::Error>(Classic { description, instances })
                }
            })
            .buffer_unordered(HEALTH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(Some(classics))
    }

    /// Application and Network Load Balancers (all, or the one with this ARN; gateway ones
    /// are left out).
    async fn balancers(&self, account: &AccountId, region: &str, arn: Option<&str>) -> Result<Vec<LoadBalancer>> {
        let elbv2 = self.elbv2(account, region)?;
        let mut pages = elbv2
            .describe_load_balancers()
            .set_load_balancer_arns(arn.map(|a| vec![a.to_string()]))
            .set_page_size(self.page_size())
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Err(e) if arn.is_some() && code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(Vec::new()),
                page => out.extend(
                    page.map_err(|e| sdk_error("elasticloadbalancing:DescribeLoadBalancers", e))?
                        .load_balancers()
                        .iter()
                        .filter(|b| b.r#type().is_some_and(|t| matches!(t.as_str(), "application" | "network")))
                        .cloned(),
                ),
            }
        }
        Ok(out)
    }

    /// Tags of v2 load balancers (by ARN) and Classic ones (by name), 20 a request.
    async fn lb_tags(
        &self,
        account: &AccountId,
        region: &str,
        arns: &[String],
        names: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>> {
        let mut out = HashMap::new();
        for chunk in arns.chunks(TAGS_PER_REQUEST) {
            let answer = self
                .elbv2(account, region)?
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_error("elasticloadbalancing:DescribeTags", e))?;
            for d in answer.tag_descriptions() {
                let tags = d
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())));
                out.insert(d.resource_arn().unwrap_or_default().to_string(), tags.collect());
            }
        }
        for chunk in names.chunks(TAGS_PER_REQUEST) {
            let answer = self
                .elb(account, region)?
                .describe_tags()
                .set_load_balancer_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_error("elasticloadbalancing:DescribeTags", e))?;
            for d in answer.tag_descriptions() {
                let tags = d.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string()));
                out.insert(d.load_balancer_name().unwrap_or_default().to_string(), tags.collect());
            }
        }
        Ok(out)
    }

    /// Builds the load balancer resources from what was read: each one's healthy targets
    /// (`activity.days` stays 0 until CloudWatch answers, so a failed metric request never
    /// makes one look idle), price and tags.
    async fn lb_resources(
        &self,
        account: &AccountId,
        region: &str,
        balancers: &[LoadBalancer],
        groups: &[Group],
        classics: &[Classic],
    ) -> Result<Vec<Resource>> {
        let arns: Vec<String> = balancers.iter().filter_map(|b| b.load_balancer_arn().map(str::to_string)).collect();
        let names: Vec<String> =
            classics.iter().filter_map(|c| c.description.load_balancer_name().map(str::to_string)).collect();
        let mut tags = self.lb_tags(account, region, &arns, &names).await?;
        let mut out = Vec::new();
        for b in balancers {
            let Some(arn) = b.load_balancer_arn() else { continue };
            let state = b.state().and_then(|s| s.code()).map_or("unknown", |c| c.as_str());
            let mut r = blank(reference(account, region, ResourceKind::LoadBalancer, arn), state);
            r.size_class = b.r#type().map(|t| t.as_str().to_string());
            r.created_at = time(b.created_time());
            r.tags = tags.remove(arn).unwrap_or_default();
            r.monthly_cost = r.size_class.as_deref().and_then(|k| self.prices.load_balancer_monthly(k));
            let healthy = groups
                .iter()
                .filter(|g| g.load_balancers.iter().any(|l| l == arn))
                .flat_map(|g| &g.targets)
                .filter(|(_, state)| state == "healthy")
                .count();
            r.activity =
                Some(Activity { days: 0, healthy_targets: u32::try_from(healthy).ok(), ..Activity::default() });
            out.push(r);
        }
        for c in classics {
            let Some(name) = c.description.load_balancer_name() else { continue };
            // Classic load balancers have no state; one that is listed is in service.
            let mut r = blank(reference(account, region, ResourceKind::ClassicLoadBalancer, name), "active");
            r.size_class = Some("classic".to_string());
            r.created_at = time(c.description.created_time());
            r.tags = tags.remove(name).unwrap_or_default();
            r.monthly_cost = self.prices.load_balancer_monthly("classic");
            let healthy = c.instances.iter().filter(|(_, state)| state == "InService").count();
            r.activity =
                Some(Activity { days: 0, healthy_targets: u32::try_from(healthy).ok(), ..Activity::default() });
            out.push(r);
        }
        Ok(out)
    }

    /// Every load balancer in one account and region, and what each instance is registered
    /// with.
    pub(super) async fn load_balancers(&self, account: &AccountId, region: &str) -> Result<LoadBalancers> {
        let (balancers, groups, classics) = tokio::try_join!(
            self.balancers(account, region, None),
            self.groups(account, region, None),
            self.classics(account, region, None),
        )?;
        let classics = classics.unwrap_or_default();
        let resources = self.lb_resources(account, region, &balancers, &groups, &classics).await?;
        Ok(LoadBalancers { resources, memberships: memberships(&groups, &classics) })
    }

    /// What each instance is registered with (target groups, Classic load balancers), without
    /// the load balancers' own details.
    pub(super) async fn memberships(&self, account: &AccountId, region: &str) -> Result<HashMap<String, Vec<String>>> {
        let (groups, classics) =
            tokio::try_join!(self.groups(account, region, None), self.classics(account, region, None))?;
        Ok(memberships(&groups, &classics.unwrap_or_default()))
    }

    /// What one instance is registered with now.
    pub(super) async fn memberships_of(
        &self,
        account: &AccountId,
        region: &str,
        instance: &str,
    ) -> Result<Vec<String>> {
        Ok(self.memberships(account, region).await?.remove(instance).unwrap_or_default())
    }

    /// One load balancer as it is now, or `None` if it is gone.
    pub(super) async fn describe_lb(&self, r: &ResourceRef) -> Result<Option<Resource>> {
        let (account, region) = (&r.account, r.region.as_str());
        match r.kind {
            ResourceKind::LoadBalancer => {
                let balancers = self.balancers(account, region, Some(&r.id)).await?;
                if balancers.is_empty() {
                    return Ok(None);
                }
                let groups = self.groups(account, region, Some(&r.id)).await?;
                Ok(self.lb_resources(account, region, &balancers, &groups, &[]).await?.pop())
            }
            ResourceKind::ClassicLoadBalancer => {
                let Some(classics) = self.classics(account, region, Some(&r.id)).await? else { return Ok(None) };
                Ok(self.lb_resources(account, region, &[], &[], &classics).await?.pop())
            }
            kind => bail!("{} is not a load balancer", kind.as_str()),
        }
    }

    /// Deletes a load balancer. Neither ELB API has a dry-run flag, so a dry run only checks
    /// that it exists.
    pub(super) async fn delete_lb(&self, r: &ResourceRef, dry_run: bool) -> Result<ActOutcome> {
        let Some(current) = self.describe_lb(r).await? else {
            bail!("load balancer {} does not exist (any more)", r.id)
        };
        if dry_run {
            return Ok(ActOutcome::DryRun {
                detail: format!(
                    "would delete load balancer {} (now {}); Elastic Load Balancing has no dry-run flag, so only its existence was checked",
                    r.id, current.state
                ),
            });
        }
        let (account, region) = (&r.account, r.region.as_str());
        if r.kind == ResourceKind::LoadBalancer {
            self.elbv2(account, region)?
                .delete_load_balancer()
                .load_balancer_arn(&r.id)
                .send()
                .await
                .map_err(|e| sdk_error("elasticloadbalancing:DeleteLoadBalancer", e))?;
        } else {
            self.elb(account, region)?
                .delete_load_balancer()
                .load_balancer_name(&r.id)
                .send()
                .await
                .map_err(|e| sdk_error("elasticloadbalancing:DeleteLoadBalancer", e))?;
        }
        Ok(ActOutcome::Done { new_state: "deleted".to_string() })
    }
}
