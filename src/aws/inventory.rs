//! EC2, EBS, Elastic IPs and RDS as a [`CloudInventory`]: discovery (every list paginated to
//! the end), CloudWatch activity for running instances and available databases, and prices
//! from the bundled table. Describing one resource and acting on it are in `inventory_act.rs`.

use std::collections::HashMap;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::types::{Address, Instance, Volume};
use aws_sdk_rds::types::DbInstance;
use chrono::NaiveDateTime;
use futures::stream::{self, StreamExt};

use super::metrics::Signal;
use crate::config::Config;
use crate::domain::prices::PriceTable;
use crate::domain::resource::{ActOutcome, Action, Activity, CloudInventory, Resource, ResourceKind, ResourceRef};
use crate::domain::waste::{self, RulesConfig};
use crate::domain::{AccountId, Money};

/// The tag AWS puts on instances an Auto Scaling group launched.
const ASG_TAG: &str = "aws:autoscaling:groupName";

/// `GetMetricData` requests in flight at once per account and region. CloudWatch allows 50
/// `GetMetricData` transactions per second per account and region; four in flight with a few
/// hundred milliseconds each stays well under that even when four regions run at once, and the
/// adaptive retry mode (the default `[aws] retry_mode`) slows down if AWS throttles anyway.
/// Not tuned on real AWS: on moto (benches/waste_discovery.rs) one to three requests per region
/// are all there is, so any value of two or more gives the same wall time there.
const METRIC_CONCURRENCY: usize = 4;

/// The AWS inventory: one SDK configuration (credentials) per account; the region is chosen
/// per call.
pub struct AwsInventory {
    configs: HashMap<AccountId, SdkConfig>,
    pub(super) prices: PriceTable,
    /// The rules (with the activity window): discovery fetches activity only for resources an
    /// enabled rule could flag on it.
    rules: RulesConfig,
    page_size: Option<i32>,
    /// The organisation's member accounts, with `[waste] accounts = "organization"`.
    members: Vec<super::organizations::Member>,
}

impl AwsInventory {
    /// Credentials for every account in `[[accounts]]` (the role, or the ambient ones),
    /// prices from `[waste.prices]`, the activity window from `[waste] idle_days`. With
    /// `[waste] accounts = "organization"`, also for every ACTIVE member account AWS
    /// Organizations lists, through `[waste.organization]`'s role template.
    pub async fn from_config(config: &Config) -> Result<AwsInventory> {
        let base = super::base_config(&config.aws).await;
        let mut accounts = config.accounts.clone();
        let mut members = Vec::new();
        if config.waste.organization() {
            members = super::organizations::members(&base, None)
                .await
                .context("cannot list the organization's accounts ([waste] accounts = \"organization\")")?;
            let reachable = super::organizations::account_configs(config, &members)?;
            accounts.extend(reachable.into_iter().filter(|m| !config.accounts.iter().any(|a| a.id == m.id)));
        }
        let mut configs = HashMap::new();
        for account in &accounts {
            let sdk = super::account_config(&base, account)
                .await
                .with_context(|| format!("account {}: cannot set up credentials", account.id))?;
            configs.insert(account.id.clone(), sdk);
        }
        let mut inventory = AwsInventory::new(configs, config.waste.price_table(), config.waste.idle_days)
            .with_rules(config.waste.rules());
        inventory.members = members;
        Ok(inventory)
    }

    /// The accounts waste discovery searches: the organisation's members with `[waste]
    /// accounts = "organization"`, otherwise `[waste] accounts` (or every configured one).
    pub fn accounts(&self, config: &Config) -> Vec<crate::domain::AccountId> {
        if config.waste.organization() {
            return self.members.iter().map(|m| m.id.clone()).collect();
        }
        let configured: Vec<AccountId> = config.accounts.iter().map(|a| a.id.clone()).collect();
        config.waste.target_accounts(&configured)
    }

    /// The organisation's member accounts, when they were listed.
    pub fn members(&self) -> &[super::organizations::Member] {
        &self.members
    }

    /// An inventory over ready SDK configurations, with the default rules over `idle_days`.
    pub fn new(configs: HashMap<AccountId, SdkConfig>, prices: PriceTable, idle_days: u32) -> AwsInventory {
        AwsInventory {
            configs,
            prices,
            rules: RulesConfig { idle_days, ..RulesConfig::default() },
            page_size: None,
            members: Vec::new(),
        }
    }

    /// Uses these rules to decide what discovery reads (their `idle_days` is the window).
    pub fn with_rules(mut self, rules: RulesConfig) -> AwsInventory {
        self.rules = rules;
        self
    }

    /// Asks for pages of at most `size` items (5 or more for EC2, 20 or more for RDS), so
    /// tests can prove that every page is read. AWS's default page size is used otherwise.
    pub fn with_page_size(mut self, size: i32) -> AwsInventory {
        self.page_size = Some(size);
        self
    }

    /// The page size asked for, if any (see [`AwsInventory::with_page_size`]).
    pub(super) fn page_size(&self) -> Option<i32> {
        self.page_size
    }

    /// The rules discovery reads for.
    pub(super) fn rules(&self) -> &RulesConfig {
        &self.rules
    }

    pub(super) fn sdk(&self, account: &AccountId, region: &str) -> Result<SdkConfig> {
        let sdk = self.configs.get(account).ok_or_else(|| anyhow!("account {account} is not in [[accounts]]"))?;
        let retries = standard_retries(sdk.retry_config());
        Ok(sdk.to_builder().region(Region::new(region.to_string())).retry_config(retries).build())
    }

    pub(super) fn ec2(&self, account: &AccountId, region: &str) -> Result<aws_sdk_ec2::Client> {
        let config = aws_sdk_ec2::config::Builder::from(&self.sdk(account, region)?)
            .retry_partition(retry_partition("ec2", account, region))
            .build();
        Ok(aws_sdk_ec2::Client::from_conf(config))
    }

    pub(super) fn rds(&self, account: &AccountId, region: &str) -> Result<aws_sdk_rds::Client> {
        let config = aws_sdk_rds::config::Builder::from(&self.sdk(account, region)?)
            .retry_partition(retry_partition("rds", account, region))
            .build();
        Ok(aws_sdk_rds::Client::from_conf(config))
    }

    pub(super) fn cloudwatch(&self, account: &AccountId, region: &str) -> Result<aws_sdk_cloudwatch::Client> {
        let config = aws_sdk_cloudwatch::config::Builder::from(&self.sdk(account, region)?)
            .retry_partition(retry_partition("monitoring", account, region))
            .build();
        Ok(aws_sdk_cloudwatch::Client::from_conf(config))
    }

    async fn volumes(&self, client: &aws_sdk_ec2::Client) -> Result<Vec<Volume>> {
        let mut pages = client.describe_volumes().set_max_results(self.page_size).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(
                page.map_err(|e| super::inventory_act::sdk_error("ec2:DescribeVolumes", e))?.volumes().iter().cloned(),
            );
        }
        Ok(out)
    }

    async fn instances(&self, client: &aws_sdk_ec2::Client) -> Result<Vec<Instance>> {
        let mut pages = client.describe_instances().set_max_results(self.page_size).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| super::inventory_act::sdk_error("ec2:DescribeInstances", e))?;
            out.extend(page.reservations().iter().flat_map(|r| r.instances().iter().cloned()));
        }
        Ok(out)
    }

    async fn databases(&self, client: &aws_sdk_rds::Client) -> Result<Vec<DbInstance>> {
        let page_size = self.page_size.map(|s| s.max(20));
        let mut pages = client.describe_db_instances().set_max_records(page_size).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(
                page.map_err(|e| super::inventory_act::sdk_error("rds:DescribeDBInstances", e))?
                    .db_instances()
                    .iter()
                    .cloned(),
            );
        }
        Ok(out)
    }

    /// The monthly storage cost of the volumes attached to each instance (`None` for an
    /// instance with a volume of unknown price).
    pub(super) fn storage_by_instance(&self, volumes: &[Resource]) -> HashMap<String, Option<Money>> {
        let mut by_instance: HashMap<String, Option<Money>> = HashMap::new();
        for volume in volumes {
            for instance in volume.dependencies.iter().filter_map(|d| d.strip_prefix("attached to ")) {
                let entry = by_instance.entry(instance.to_string()).or_insert(Some(Money::ZERO));
                *entry = entry.zip(volume.monthly_cost).map(|(a, b)| a + b);
            }
        }
        by_instance
    }

    /// Fills in activity for the resources an enabled rule could flag on it, in
    /// `GetMetricData` batches, a few requests at a time. A failed batch leaves its resources'
    /// activity unknown (and so never idle); the rest of discovery goes on.
    async fn add_activity(&self, account: &AccountId, region: &str, resources: &mut [Resource]) -> Result<()> {
        let now = chrono::Utc::now().naive_utc();
        let wanted: Vec<(usize, &ResourceRef)> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| waste::needs_activity(r, &self.rules, now))
            .map(|(i, r)| (i, &r.reference))
            .collect();
        // Each kind has its window (NAT gateways 30 days, the rest `idle_days`); one request
        // has one window, so kinds with different windows go in different requests.
        let mut batches = Vec::new();
        let mut windows: Vec<u32> = wanted.iter().map(|(_, r)| waste::activity_days(r.kind, &self.rules)).collect();
        windows.sort_unstable();
        windows.dedup();
        for days in windows {
            let group: Vec<(usize, &ResourceRef)> =
                wanted.iter().copied().filter(|(_, r)| waste::activity_days(r.kind, &self.rules) == days).collect();
            batches.extend(super::metrics::plan(&group).into_iter().map(|b| (b, days)));
        }
        if batches.is_empty() {
            return Ok(());
        }
        let client = self.cloudwatch(account, region)?;
        let answers: Vec<_> = stream::iter(0..batches.len())
            .map(|i| {
                let (client, (batch, days)) = (&client, &batches[i]);
                let (start, end) = super::metrics::window(*days, now);
                async move { (batch, *days, super::metrics::fetch(client, batch, start, end).await) }
            })
            .buffer_unordered(METRIC_CONCURRENCY)
            .collect()
            .await;
        let mut by_resource: HashMap<usize, (u32, HashMap<Signal, Vec<super::metrics::Point>>)> = HashMap::new();
        for (batch, days, answer) in answers {
            match answer {
                Ok(values) => {
                    for (id, (index, signal)) in &batch.owners {
                        let series = values.get(id).cloned().unwrap_or_default();
                        let entry = by_resource.entry(*index).or_insert_with(|| (days, HashMap::new()));
                        entry.1.entry(*signal).or_default().extend(series);
                    }
                }
                Err(error) => {
                    let count = batch.owners.len();
                    tracing::warn!(%account, region, queries = count, error = format!("{error:#}"), "no CloudWatch activity for one batch")
                }
            }
        }
        for (index, (days, values)) in by_resource {
            // What discovery already knew (a load balancer's healthy targets) stays.
            let healthy_targets = resources[index].activity.as_ref().and_then(|a| a.healthy_targets);
            resources[index].activity = Some(Activity { healthy_targets, ..super::metrics::summarise(days, &values) });
        }
        Ok(())
    }
}

/// The inventory's retries: standard mode (exponential backoff with jitter) with `[aws]`'s
/// attempts and backoff, whatever `[aws] retry_mode` says. Adaptive mode suits a client that
/// sends many requests to one API (Cost Explorer); discovery sends a handful per account and
/// region, and after one throttled answer adaptive mode's client-side limiter starts at half
/// a request a second and charges a retry five requests, so the retry waits tens of seconds.
/// In benches/discovery_scale.rs, 3 accounts × 2 regions whose AWS buckets start empty took
/// 54.5 s in adaptive mode and 1.1 s in standard mode, with the same throttles and retries.
fn standard_retries(configured: Option<&RetryConfig>) -> RetryConfig {
    let standard = RetryConfig::standard();
    match configured {
        Some(c) => standard
            .with_max_attempts(c.max_attempts())
            .with_initial_backoff(c.initial_backoff())
            .with_max_backoff(c.max_backoff()),
        None => standard,
    }
}

/// The SDK's retry partition for one service in one account and region. The SDK keeps one
/// retry quota and, in adaptive mode, one client-side rate limiter per partition, and its
/// default partition is the service and region (`ec2-us-east-1`) whatever the credentials.
/// AWS throttles each account and region on its own, so with the default one throttled
/// account could use up the retry quota (500 tokens, 5 a throttled retry) of every account in
/// its region, and in adaptive mode slow them all: in benches/discovery_scale.rs, 3 accounts
/// × 2 regions whose buckets start empty took 84 s with shared partitions and 54.5 s with one
/// per account (adaptive mode both times). One partition a service, account and region is a
/// few hundred bytes kept for the process's life: 1,000 accounts × 16 regions × 5 services
/// is 80,000.
pub(super) fn retry_partition(
    service: &str,
    account: &AccountId,
    region: &str,
) -> aws_sdk_ec2::config::retry::RetryPartition {
    aws_sdk_ec2::config::retry::RetryPartition::new(format!("{service}-{region}-{account}"))
}

/// An SDK timestamp as a UTC time.
pub(super) fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<NaiveDateTime> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())).map(|t| t.naive_utc())
}

/// When an instance entered its state, from EC2's reason text: "User initiated (2026-10-01
/// 12:00:00 GMT)". Other reasons (and an empty one for running instances) give `None`.
pub fn parse_transition_time(reason: &str) -> Option<NaiveDateTime> {
    let inside = reason.rsplit_once('(')?.1.split_once(')')?.0.trim();
    let stamp = inside.strip_suffix("GMT").or_else(|| inside.strip_suffix("UTC")).unwrap_or(inside).trim();
    NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").ok()
}

pub(super) fn reference(account: &AccountId, region: &str, kind: ResourceKind, id: &str) -> ResourceRef {
    ResourceRef { account: account.clone(), region: region.to_string(), kind, id: id.to_string() }
}

pub(super) fn blank(reference: ResourceRef, state: &str) -> Resource {
    Resource {
        reference,
        state: state.to_string(),
        tags: Default::default(),
        created_at: None,
        state_since: None,
        size_class: None,
        storage_gib: None,
        monthly_cost: None,
        dependencies: Vec::new(),
        activity: None,
    }
}

pub(super) fn rds_tags(tags: &[aws_sdk_rds::types::Tag]) -> std::collections::BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

pub(super) fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> std::collections::BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

impl AwsInventory {
    pub(super) fn volume(&self, account: &AccountId, region: &str, v: &Volume) -> Option<Resource> {
        let state = v.state()?.as_str();
        let mut r = blank(reference(account, region, ResourceKind::EbsVolume, v.volume_id()?), state);
        r.tags = ec2_tags(v.tags());
        r.created_at = time(v.create_time());
        r.size_class = v.volume_type().map(|t| t.as_str().to_string());
        r.storage_gib = v.size().and_then(|s| u32::try_from(s).ok());
        r.monthly_cost =
            r.size_class.as_deref().zip(r.storage_gib).and_then(|(t, gib)| self.prices.ebs_monthly(t, gib));
        r.dependencies =
            v.attachments().iter().filter_map(|a| a.instance_id()).map(|i| format!("attached to {i}")).collect();
        Some(r)
    }

    /// An instance; running ones cost their compute, stopped ones their attached storage (see
    /// `domain::waste` for why).
    pub(super) fn instance(
        &self,
        account: &AccountId,
        region: &str,
        i: &Instance,
        storage: &HashMap<String, Option<Money>>,
    ) -> Option<Resource> {
        let id = i.instance_id()?;
        let state = i.state().and_then(|s| s.name())?.as_str();
        let mut r = blank(reference(account, region, ResourceKind::Ec2Instance, id), state);
        r.tags = ec2_tags(i.tags());
        r.created_at = time(i.launch_time());
        r.state_since = i.state_transition_reason().and_then(parse_transition_time);
        r.size_class = i.instance_type().map(|t| t.as_str().to_string());
        r.monthly_cost = match state {
            "pending" | "running" => r.size_class.as_deref().and_then(|t| self.prices.ec2_monthly(t)),
            _ => storage.get(id).copied().unwrap_or(Some(Money::ZERO)),
        };
        if let Some(group) = r.tag(ASG_TAG).map(str::to_string) {
            r.dependencies.push(format!("in Auto Scaling group {group}"));
        }
        Some(r)
    }

    pub(super) fn address(&self, account: &AccountId, region: &str, a: &Address) -> Option<Resource> {
        let state = if a.association_id().is_some() || a.instance_id().is_some_and(|i| !i.is_empty()) {
            "associated"
        } else {
            "unassociated"
        };
        let mut r = blank(reference(account, region, ResourceKind::ElasticIp, a.allocation_id()?), state);
        r.tags = ec2_tags(a.tags());
        r.monthly_cost = Some(self.prices.elastic_ip_monthly());
        if let Some(instance) = a.instance_id().filter(|i| !i.is_empty()) {
            r.dependencies.push(format!("associated with {instance}"));
        }
        Some(r)
    }

    /// A DB instance; available ones cost their instance hours, stopped ones their storage.
    pub(super) fn database(&self, account: &AccountId, region: &str, d: &DbInstance) -> Option<Resource> {
        let mut r = blank(
            reference(account, region, ResourceKind::RdsInstance, d.db_instance_identifier()?),
            d.db_instance_status()?,
        );
        r.tags = rds_tags(d.tag_list());
        r.created_at = time(d.instance_create_time());
        r.size_class = d.db_instance_class().map(str::to_string);
        r.storage_gib = d.allocated_storage().and_then(|s| u32::try_from(s).ok());
        let storage_type = d.storage_type().unwrap_or("gp2");
        r.monthly_cost = match r.state.as_str() {
            "stopped" => r.storage_gib.and_then(|gib| self.prices.rds_storage_monthly(storage_type, gib)),
            _ => r.size_class.as_deref().and_then(|c| self.prices.rds_monthly(c)),
        };
        r.dependencies
            .extend(d.read_replica_db_instance_identifiers().iter().map(|id| format!("has read replica {id}")));
        if let Some(source) = d.read_replica_source_db_instance_identifier() {
            r.dependencies.push(format!("is a read replica of {source}"));
        }
        Some(r)
    }
}

#[async_trait]
impl CloudInventory for AwsInventory {
    async fn discover(&self, account: &AccountId, region: &str) -> Result<Vec<Resource>> {
        let (ec2, rds) = (self.ec2(account, region)?, self.rds(account, region)?);
        let context = |what: &str| format!("discovering {what} in {account} {region}");
        // The four lists are independent, so they are read at once: four requests in flight
        // per account and region at most (each paginated one page after another).
        let (volumes, instances, addresses, databases) = tokio::try_join!(
            async { self.volumes(&ec2).await.with_context(|| context("EBS volumes")) },
            async { self.instances(&ec2).await.with_context(|| context("EC2 instances")) },
            async {
                ec2.describe_addresses()
                    .send()
                    .await
                    .map_err(|e| super::inventory_act::sdk_error("ec2:DescribeAddresses", e))
                    .with_context(|| context("Elastic IPs"))
            },
            async { self.databases(&rds).await.with_context(|| context("RDS instances")) },
        )?;
        let volumes: Vec<Resource> = volumes.iter().filter_map(|v| self.volume(account, region, v)).collect();
        let storage = self.storage_by_instance(&volumes);
        // Terminated instances cost nothing and vanish from EC2 within the hour.
        let mut out: Vec<Resource> = instances
            .iter()
            .filter_map(|i| self.instance(account, region, i, &storage))
            .filter(|r| r.state != "terminated")
            .collect();
        out.extend(volumes);
        out.extend(addresses.addresses().iter().filter_map(|a| self.address(account, region, a)));
        out.extend(databases.iter().filter_map(|d| self.database(account, region, d)));
        let kind_ids = |kind: ResourceKind| {
            out.iter().filter(move |r| r.reference.kind == kind).map(|r| r.reference.id.as_str()).collect()
        };
        let known = super::inventory_more::Known {
            volumes: kind_ids(ResourceKind::EbsVolume),
            databases: kind_ids(ResourceKind::RdsInstance),
        };
        let more = self
            .more(account, region, &ec2, &rds, &known)
            .await
            .with_context(|| context("snapshots and NAT gateways"))?;
        out.extend(more);
        // Load balancers are read for their own rule and, whenever there are instances, for
        // the instances registered behind them: those are dependencies, never terminated.
        let instances = out.iter().any(|r| r.reference.kind == ResourceKind::Ec2Instance);
        let lbs = if self.rules.enabled("idle_load_balancer") {
            Some(self.load_balancers(account, region).await.with_context(|| context("load balancers"))?)
        } else if instances {
            let memberships = self.memberships(account, region).await.with_context(|| context("load balancers"))?;
            Some(super::inventory_lb::LoadBalancers { resources: Vec::new(), memberships })
        } else {
            None
        };
        if let Some(lbs) = lbs {
            for r in out.iter_mut().filter(|r| r.reference.kind == ResourceKind::Ec2Instance) {
                r.dependencies.extend(lbs.memberships.get(&r.reference.id).into_iter().flatten().cloned());
            }
            out.extend(lbs.resources);
        }
        self.add_activity(account, region, &mut out).await?;
        Ok(out)
    }

    async fn describe(&self, resource: &ResourceRef) -> Result<Option<Resource>> {
        // The re-check before acting re-runs the rule, so it needs today's activity, not
        // discovery's: a resource that became busy since must not look idle.
        let mut found = self.describe_one(resource).await.with_context(|| format!("describing {resource}"))?;
        if let Some(r) = found.as_mut() {
            self.add_activity(&resource.account, &resource.region, std::slice::from_mut(r)).await?;
        }
        Ok(found)
    }

    async fn act(&self, resource: &ResourceRef, action: Action, dry_run: bool) -> Result<ActOutcome> {
        self.act_on(resource, action, dry_run).await.with_context(|| format!("{} {resource}", action.verb()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_inventory_retries_in_standard_mode_with_the_configured_attempts() {
        let adaptive = RetryConfig::adaptive().with_max_attempts(7).with_initial_backoff(Duration::from_millis(300));
        let retries = standard_retries(Some(&adaptive));
        assert_eq!(retries.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!((retries.max_attempts(), retries.initial_backoff()), (7, Duration::from_millis(300)));
        assert_eq!(standard_retries(None).mode(), aws_config::retry::RetryMode::Standard);
    }

    #[test]
    fn each_account_and_region_has_its_own_retry_partition() {
        let (a, b) = (AccountId::parse("111111111111").unwrap(), AccountId::parse("222222222222").unwrap());
        assert_eq!(retry_partition("ec2", &a, "us-east-1"), retry_partition("ec2", &a, "us-east-1"));
        assert_ne!(retry_partition("ec2", &a, "us-east-1"), retry_partition("ec2", &b, "us-east-1"));
        assert_ne!(retry_partition("ec2", &a, "us-east-1"), retry_partition("ec2", &a, "eu-west-1"));
        assert_ne!(retry_partition("ec2", &a, "us-east-1"), retry_partition("rds", &a, "us-east-1"));
    }

    #[test]
    fn transition_times_are_read_from_the_reason_text() {
        let at: NaiveDateTime = "2026-10-01T12:00:00".parse().unwrap();
        assert_eq!(parse_transition_time("User initiated (2026-10-01 12:00:00 GMT)"), Some(at));
        assert_eq!(parse_transition_time("User initiated (2026-10-01 12:00:00 UTC)"), Some(at));
        assert_eq!(parse_transition_time(""), None);
        assert_eq!(parse_transition_time("Server.SpotInstanceTermination: spot price"), None);
        assert_eq!(parse_transition_time("User initiated (yesterday)"), None);
    }
}
