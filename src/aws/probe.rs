//! Probes for `costbot doctor`: who the credentials are, and whether each IAM permission a
//! feature needs is granted, found out with the cheapest call AWS offers for it.
//!
//! EC2 actions are probed with `DryRun=true` on an id that does not exist, which changes
//! nothing: AWS answers `DryRunOperation` when the permission is granted and
//! `UnauthorizedOperation` when it is not. RDS has no dry-run flag, so its actions cannot be
//! probed without acting; [`CALLS`] still lists them so the IAM files can be checked.

use std::fmt::Debug;

use anyhow::{Context, Result};
use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{Duration, NaiveDate};

use super::inventory_act::{sdk_error, AwsCallError};

/// Every AWS SDK operation costbot calls, with the IAM actions it needs. `deploy/iam/*.json`
/// and `deploy/iam/member-account-role.yaml` grant exactly these actions, and a test finds
/// every operation `src/aws/` sends and checks it is listed here, so the policies cannot
/// silently fall behind the code. `AssumeRoleProvider` stands for the SDK's credentials
/// provider, which calls `sts:AssumeRole`; `get_caller_identity` needs no permission.
pub const CALLS: &[(&str, &[&str])] = &[
    ("AssumeRoleProvider", &["sts:AssumeRole"]),
    ("get_caller_identity", &[]),
    ("get_cost_and_usage", &["ce:GetCostAndUsage"]),
    ("describe_instances", &["ec2:DescribeInstances"]),
    ("describe_volumes", &["ec2:DescribeVolumes"]),
    ("describe_addresses", &["ec2:DescribeAddresses"]),
    ("describe_db_instances", &["rds:DescribeDBInstances"]),
    ("describe_snapshots", &["ec2:DescribeSnapshots"]),
    ("describe_images", &["ec2:DescribeImages"]),
    ("describe_db_snapshots", &["rds:DescribeDBSnapshots"]),
    ("describe_nat_gateways", &["ec2:DescribeNatGateways"]),
    ("get_metric_data", &["cloudwatch:GetMetricData"]),
    ("list_accounts", &["organizations:ListAccounts"]),
    // Both Elastic Load Balancing APIs (v2 and Classic) share the `elasticloadbalancing`
    // IAM prefix and these operation names.
    ("describe_load_balancers", &["elasticloadbalancing:DescribeLoadBalancers"]),
    ("describe_target_groups", &["elasticloadbalancing:DescribeTargetGroups"]),
    ("describe_target_health", &["elasticloadbalancing:DescribeTargetHealth"]),
    ("describe_instance_health", &["elasticloadbalancing:DescribeInstanceHealth"]),
    ("describe_tags", &["elasticloadbalancing:DescribeTags"]),
    ("stop_instances", &["ec2:StopInstances"]),
    ("start_instances", &["ec2:StartInstances"]),
    ("terminate_instances", &["ec2:TerminateInstances"]),
    ("delete_volume", &["ec2:DeleteVolume"]),
    ("release_address", &["ec2:ReleaseAddress"]),
    ("modify_volume", &["ec2:ModifyVolume"]),
    ("delete_snapshot", &["ec2:DeleteSnapshot"]),
    ("delete_nat_gateway", &["ec2:DeleteNatGateway"]),
    ("delete_db_snapshot", &["rds:DeleteDBSnapshot"]),
    ("stop_db_instance", &["rds:StopDBInstance"]),
    ("start_db_instance", &["rds:StartDBInstance"]),
    ("delete_load_balancer", &["elasticloadbalancing:DeleteLoadBalancer"]),
    ("modify_instance_attribute", &["ec2:ModifyInstanceAttribute"]),
    // Deleting with a final snapshot is authorised against the snapshot too.
    ("delete_db_instance", &["rds:DeleteDBInstance", "rds:CreateDBSnapshot"]),
];

/// The RDS actions that cannot be probed (RDS has no dry run).
pub const UNPROBED_ACTIONS: &[&str] = &[
    "rds:StopDBInstance",
    "rds:StartDBInstance",
    "rds:DeleteDBInstance",
    "rds:CreateDBSnapshot",
    "rds:DeleteDBSnapshot",
    "elasticloadbalancing:DeleteLoadBalancer",
];

/// Well-formed ids that no account has, so a dry run can never touch a real resource.
const NO_INSTANCE: &str = "i-0000000000000000f";
const NO_VOLUME: &str = "vol-0000000000000000f";
const NO_ALLOCATION: &str = "eipalloc-0000000000000000f";
const NO_SNAPSHOT: &str = "snap-0000000000000000f";
const NO_LOAD_BALANCER: &str = "costbot-probe-no-such-lb";

/// A well-formed target group ARN that no account has.
fn no_target_group(region: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:000000000000:targetgroup/costbot-probe/0000000000000000")
}

/// Who a set of credentials is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The caller's ARN (a user, a role or an assumed-role session).
    pub arn: String,
    /// The twelve-digit account the credentials belong to.
    pub account: String,
}

/// What AWS said to one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The call succeeded, or a dry run was confirmed.
    Allowed,
    /// AWS refused for lack of permission (its code and message).
    Denied(String),
    /// AWS looked at the request and did not refuse it, but stopped before confirming the
    /// permission (for example: that id does not exist).
    NotRefused(String),
    /// Anything else: no credentials, network, throttling (the full error).
    Failed(String),
}

/// One permission probed and what AWS said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The IAM action, like `ec2:StopInstances`.
    pub permission: &'static str,
    /// AWS's answer.
    pub verdict: Verdict,
}

/// The credentials a probe runs with: costbot's own identity or one account's role. Opaque,
/// so that `doctor` checks AWS through this module without naming an SDK type.
#[derive(Clone)]
pub struct Session(SdkConfig);

impl Session {
    /// costbot's own identity from the default credential chain, with the configured region,
    /// retries and endpoint.
    pub async fn base(aws: &crate::config::AwsConfig) -> Session {
        Session(super::base_config(aws).await)
    }

    /// One account's credentials: the base ones, or its role assumed with its ExternalId.
    pub async fn account(&self, account: &crate::config::AccountConfig) -> Result<Session> {
        Ok(Session(super::account_config(&self.0, account).await?))
    }
}

/// STS GetCallerIdentity with these credentials. For an account reached through a role this
/// is also the AssumeRole check: the provider assumes the role (with its ExternalId) first.
pub async fn identity(session: &Session) -> Result<Identity> {
    let client = aws_sdk_sts::Client::new(&session.0);
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        .context("sts:GetCallerIdentity failed")?;
    Ok(Identity { arn: out.arn().unwrap_or("?").to_string(), account: out.account().unwrap_or("?").to_string() })
}

/// The organisation's ACTIVE member accounts, listed with these credentials (every page).
pub async fn organization_members(session: &Session) -> Result<Vec<super::organizations::Member>> {
    super::organizations::members(&session.0, None).await
}

/// Sorts an SDK answer into a [`Verdict`].
fn verdict<T, E, R>(permission: &'static str, result: Result<T, SdkError<E, R>>) -> Probe
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let verdict = match result {
        Ok(_) => Verdict::Allowed,
        Err(e) if e.code() == Some("DryRunOperation") => Verdict::Allowed,
        Err(e)
            if e.code().is_some_and(|c| {
                c.ends_with(".NotFound")
                    || c.ends_with(".Malformed")
                    || c == "LoadBalancerNotFound"
                    || c == "TargetGroupNotFound"
            }) =>
        {
            Verdict::NotRefused(format!("{}: {}", e.code().unwrap_or_default(), e.message().unwrap_or_default()))
        }
        Err(e) => match sdk_error(permission, e).downcast::<AwsCallError>() {
            Ok(AwsCallError::MissingPermission { code, message, .. }) => Verdict::Denied(format!("{code}: {message}")),
            Ok(other) => Verdict::Failed(other.to_string()),
            Err(other) => Verdict::Failed(format!("{other:#}")),
        },
    };
    Probe { permission, verdict }
}

/// One GetCostAndUsage request for a single day (Cost Explorer charges $0.01 for it).
pub async fn cost_explorer(session: &Session, today: NaiveDate) -> Probe {
    let sdk = &session.0;
    use aws_sdk_costexplorer::types::{DateInterval, Granularity};
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let interval = DateInterval::builder().start(day(today - Duration::days(1))).end(day(today)).build();
    let Ok(interval) = interval else {
        return Probe {
            permission: "ce:GetCostAndUsage",
            verdict: Verdict::Failed("cannot build the date interval".into()),
        };
    };
    let client = aws_sdk_costexplorer::Client::new(&sdk.to_builder().region(Region::new("us-east-1")).build());
    let result = client
        .get_cost_and_usage()
        .time_period(interval)
        .granularity(Granularity::Daily)
        .metrics("UnblendedCost")
        .send()
        .await;
    verdict("ce:GetCostAndUsage", result)
}

/// The read-only calls of waste discovery, each asking for as little as AWS allows.
pub async fn waste_reads(session: &Session, region: &str) -> Vec<Probe> {
    let sdk = session.0.to_builder().region(Region::new(region.to_string())).build();
    let (ec2, rds) = (aws_sdk_ec2::Client::new(&sdk), aws_sdk_rds::Client::new(&sdk));
    let (elbv2, elb) =
        (aws_sdk_elasticloadbalancingv2::Client::new(&sdk), aws_sdk_elasticloadbalancing::Client::new(&sdk));
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let now = chrono::Utc::now().timestamp();
    let now = aws_smithy_types::DateTime::from_secs(now);
    let query = {
        use aws_sdk_cloudwatch::types::{Metric, MetricDataQuery, MetricStat};
        let metric = Metric::builder().namespace("AWS/EC2").metric_name("CPUUtilization").build();
        MetricDataQuery::builder()
            .id("probe")
            .metric_stat(MetricStat::builder().metric(metric).period(3_600).stat("Average").build())
            .build()
    };
    let metric = cloudwatch
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(aws_smithy_types::DateTime::from_secs(now.secs() - 3_600))
        .end_time(now)
        .send()
        .await;
    vec![
        verdict("ec2:DescribeInstances", ec2.describe_instances().max_results(5).send().await),
        verdict("ec2:DescribeVolumes", ec2.describe_volumes().max_results(5).send().await),
        verdict("ec2:DescribeAddresses", ec2.describe_addresses().send().await),
        verdict("rds:DescribeDBInstances", rds.describe_db_instances().max_records(20).send().await),
        verdict("ec2:DescribeSnapshots", ec2.describe_snapshots().owner_ids("self").max_results(5).send().await),
        verdict("ec2:DescribeImages", ec2.describe_images().owners("self").max_results(6).send().await),
        verdict("rds:DescribeDBSnapshots", rds.describe_db_snapshots().max_records(20).send().await),
        verdict("ec2:DescribeNatGateways", ec2.describe_nat_gateways().max_results(5).send().await),
        verdict("cloudwatch:GetMetricData", metric),
        verdict(
            "elasticloadbalancing:DescribeLoadBalancers",
            elbv2.describe_load_balancers().page_size(1).send().await,
        ),
        verdict("elasticloadbalancing:DescribeTargetGroups", elbv2.describe_target_groups().page_size(1).send().await),
        // The calls that need a name or an ARN: one that no account has.
        verdict(
            "elasticloadbalancing:DescribeTargetHealth",
            elbv2.describe_target_health().target_group_arn(no_target_group(region)).send().await,
        ),
        verdict(
            "elasticloadbalancing:DescribeInstanceHealth",
            elb.describe_instance_health().load_balancer_name(NO_LOAD_BALANCER).send().await,
        ),
        verdict(
            "elasticloadbalancing:DescribeTags",
            elb.describe_tags().load_balancer_names(NO_LOAD_BALANCER).send().await,
        ),
    ]
}

/// The EC2 actions of approved proposals, each as a dry run on an id that does not exist.
/// `ec2:DeleteNatGateway` is not probed yet: moto 5.2.5 ignores `DryRun` on it and answers an
/// unknown id with HTTP 500, so such a probe could not be tested here (AWS itself supports the
/// dry run); the IAM files grant it, and `doctor` says nothing about it.
pub async fn waste_actions(session: &Session, region: &str) -> Vec<Probe> {
    let client = aws_sdk_ec2::Client::new(&session.0.to_builder().region(Region::new(region.to_string())).build());
    vec![
        verdict("ec2:StopInstances", client.stop_instances().instance_ids(NO_INSTANCE).dry_run(true).send().await),
        verdict(
            "ec2:TerminateInstances",
            client.terminate_instances().instance_ids(NO_INSTANCE).dry_run(true).send().await,
        ),
        verdict("ec2:DeleteVolume", client.delete_volume().volume_id(NO_VOLUME).dry_run(true).send().await),
        verdict("ec2:ReleaseAddress", client.release_address().allocation_id(NO_ALLOCATION).dry_run(true).send().await),
        verdict(
            "ec2:ModifyVolume",
            client
                .modify_volume()
                .volume_id(NO_VOLUME)
                .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
                .dry_run(true)
                .send()
                .await,
        ),
        verdict("ec2:DeleteSnapshot", client.delete_snapshot().snapshot_id(NO_SNAPSHOT).dry_run(true).send().await),
        verdict("ec2:StartInstances", client.start_instances().instance_ids(NO_INSTANCE).dry_run(true).send().await),
        verdict(
            "ec2:ModifyInstanceAttribute",
            client
                .modify_instance_attribute()
                .instance_id(NO_INSTANCE)
                .instance_type(aws_sdk_ec2::types::AttributeValue::builder().value("t3.micro").build())
                .dry_run(true)
                .send()
                .await,
        ),
    ]
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
