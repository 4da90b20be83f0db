//! Load balancers against moto: Application, Network and Classic ones discovered with their
//! healthy targets, price and CloudWatch requests (RequestCount put into moto); the idle rule
//! (no healthy target, or under 100 requests a day); the instances behind them as
//! dependencies (never terminated, stopped only with two approvers), re-read before acting;
//! and the delete action, dry runs changing nothing.

use aws_config::Region;
use aws_sdk_ec2::types::InstanceType;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as LbAction, ActionTypeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetDescription, TargetTypeEnum,
};
use chrono::Duration;
use costbot::aws::inventory::AwsInventory;
use costbot::config::Config;
use costbot::domain::resource::{ActOutcome, Action, CloudInventory, Resource, ResourceKind, ResourceRef, SafetyPath};
use costbot::domain::waste::{findings, PolicyConfig, RulesConfig};
use costbot::domain::{AccountId, Money};

use crate::support::Moto;
use crate::waste_more::config;

const PAYER: &str = "123456789012";
const AMI: &str = "ami-03cf127a";

struct Clients {
    ec2: aws_sdk_ec2::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    elb: aws_sdk_elasticloadbalancing::Client,
    cw: aws_sdk_cloudwatch::Client,
}

async fn clients(config: &Config) -> Clients {
    let sdk = costbot::aws::base_config(&config.aws).await.to_builder().region(Region::new("us-east-1")).build();
    Clients {
        ec2: aws_sdk_ec2::Client::new(&sdk),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
        elb: aws_sdk_elasticloadbalancing::Client::new(&sdk),
        cw: aws_sdk_cloudwatch::Client::new(&sdk),
    }
}

/// One running instance with an optional tag.
pub async fn instance(ec2: &aws_sdk_ec2::Client, kind: InstanceType, tag: Option<(&str, &str)>) -> String {
    let mut run = ec2.run_instances().image_id(AMI).instance_type(kind).min_count(1).max_count(1);
    if let Some((k, v)) = tag {
        let tag = aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        let spec = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
            .tags(tag)
            .build();
        run = run.tag_specifications(spec);
    }
    run.send().await.unwrap().instances()[0].instance_id().unwrap().to_string()
}

/// A v2 load balancer of `kind` with, when `group` is given, a target group of that name
/// behind a listener, holding `targets`. Gives the load balancer's ARN.
async fn balancer(
    c: &Clients,
    subnets: &[String],
    vpc: &str,
    name: &str,
    kind: LoadBalancerTypeEnum,
    group: Option<(&str, &[&str])>,
) -> String {
    let mut create = c.elbv2.create_load_balancer().name(name).r#type(kind.clone());
    for s in subnets {
        create = create.subnets(s);
    }
    let out = create.send().await.unwrap();
    let arn = out.load_balancers()[0].load_balancer_arn().unwrap().to_string();
    let Some((group, targets)) = group else { return arn };
    let protocol = if kind == LoadBalancerTypeEnum::Network { ProtocolEnum::Tcp } else { ProtocolEnum::Http };
    let tg = c
        .elbv2
        .create_target_group()
        .name(group)
        .protocol(protocol.clone())
        .port(80)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Instance)
        .send()
        .await
        .unwrap();
    let tg = tg.target_groups()[0].target_group_arn().unwrap().to_string();
    let forward = LbAction::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&tg).build();
    c.elbv2
        .create_listener()
        .load_balancer_arn(&arn)
        .protocol(protocol)
        .port(80)
        .default_actions(forward)
        .send()
        .await
        .unwrap();
    for t in targets {
        let target = TargetDescription::builder().id(*t).build();
        c.elbv2.register_targets().target_group_arn(&tg).targets(target).send().await.unwrap();
    }
    arn
}

async fn requests(cw: &aws_sdk_cloudwatch::Client, namespace: &str, dimension: (&str, &str), per_day: &[f64]) {
    for (days_ago, value) in per_day.iter().enumerate() {
        // Mid-period, so no datapoint sits near a boundary of the daily buckets, which start
        // with the window: one suite run saw two days' requests summed into one day with points
        // a whole number of days before "now" (a boundary effect not investigated further).
        let at = chrono::Utc::now() - Duration::days(days_ago as i64 + 1) + Duration::hours(12);
        let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
            .metric_name("RequestCount")
            .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name(dimension.0).value(dimension.1).build())
            .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
            .value(*value)
            .build();
        cw.put_metric_data().namespace(namespace).metric_data(datum).send().await.unwrap();
    }
}

fn find<'a>(resources: &'a [Resource], id: &str) -> &'a Resource {
    resources.iter().find(|r| r.reference.id == id).unwrap_or_else(|| panic!("{id} was not discovered"))
}

fn healthy(r: &Resource) -> Option<u32> {
    r.activity.as_ref().and_then(|a| a.healthy_targets)
}

/// A Classic load balancer with one HTTP listener and `instance` registered behind it.
async fn classic(c: &Clients, name: &str, instance: &str) {
    let listener = aws_sdk_elasticloadbalancing::types::Listener::builder()
        .protocol("HTTP")
        .load_balancer_port(80)
        .instance_port(80)
        .build()
        .unwrap();
    let create = c.elb.create_load_balancer().load_balancer_name(name).listeners(listener);
    create.availability_zones("us-east-1a").send().await.unwrap();
    let member = aws_sdk_elasticloadbalancing::types::Instance::builder().instance_id(instance).build();
    c.elb.register_instances_with_load_balancer().load_balancer_name(name).instances(member).send().await.unwrap();
}

#[tokio::test]
async fn load_balancers_are_judged_on_healthy_targets_and_requests_and_guard_their_instances() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let c = clients(&config).await;
    let vpc = c.ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let s = c.ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(zone).send().await.unwrap();
        subnets.push(s.subnet.unwrap().subnet_id.unwrap());
    }
    let web = instance(&c.ec2, InstanceType::T3Micro, Some(("expires-at", "2020-01-01"))).await;
    let old = instance(&c.ec2, InstanceType::T3Micro, None).await;
    let legacy_box = instance(&c.ec2, InstanceType::T3Micro, None).await;
    let app = LoadBalancerTypeEnum::Application;
    let idle = balancer(&c, &subnets, &vpc, "idle", app.clone(), Some(("idle-tg", &[old.as_str()]))).await;
    // Registered while running (EC2 refuses stopped targets), stopped since: unhealthy.
    c.ec2.stop_instances().instance_ids(&old).send().await.unwrap();
    let busy = balancer(&c, &subnets, &vpc, "busy", app.clone(), Some(("busy-tg", &[web.as_str()]))).await;
    let quiet = balancer(&c, &subnets, &vpc, "quiet", app, Some(("quiet-tg", &[web.as_str()]))).await;
    let net = balancer(&c, &subnets, &vpc, "net", LoadBalancerTypeEnum::Network, None).await;
    classic(&c, "legacy", &legacy_box).await;
    let dimension = |arn: &str| arn.split_once(":loadbalancer/").unwrap().1.to_string();
    requests(&c.cw, "AWS/ApplicationELB", ("LoadBalancer", &dimension(&busy)), &[5_000.0, 4_000.0]).await;
    requests(&c.cw, "AWS/ApplicationELB", ("LoadBalancer", &dimension(&quiet)), &[10.0, 99.0]).await;
    requests(&c.cw, "AWS/ELB", ("LoadBalancerName", "legacy"), &[3.0]).await;

    let aws = AwsInventory::from_config(&config).await.unwrap();
    let account = AccountId::parse(PAYER).unwrap();
    let found = aws.discover(&account, "us-east-1").await.unwrap();
    let (i, b, q, n, l) =
        (find(&found, &idle), find(&found, &busy), find(&found, &quiet), find(&found, &net), find(&found, "legacy"));
    assert_eq!(
        (healthy(i), healthy(b), healthy(q), healthy(n), healthy(l)),
        (Some(0), Some(1), Some(1), Some(0), Some(1))
    );
    assert_eq!((i.reference.kind, i.size_class.as_deref()), (ResourceKind::LoadBalancer, Some("application")));
    assert_eq!((l.reference.kind, l.size_class.as_deref()), (ResourceKind::ClassicLoadBalancer, Some("classic")));
    assert_eq!(i.monthly_cost, Money::parse("16.425").ok(), "$0.0225 an hour");
    assert_eq!(l.monthly_cost, Money::parse("18.25").ok(), "$0.025 an hour");
    let daily = |r: &Resource| {
        let mut d: Vec<u64> = r.activity.as_ref().unwrap().daily.iter().filter_map(|d| d.requests).collect();
        d.sort_unstable();
        d
    };
    assert_eq!((daily(b), daily(q), daily(l)), (vec![4_000, 5_000], vec![10, 99], vec![3]));
    assert_eq!(i.activity.as_ref().unwrap().days, 0, "no healthy target needs no metrics");
    assert_eq!(find(&found, &old).dependencies, ["registered in target group idle-tg"]);
    let mut web_deps = find(&found, &web).dependencies.clone();
    web_deps.sort();
    assert_eq!(web_deps, ["registered in target group busy-tg", "registered in target group quiet-tg"]);
    assert_eq!(find(&found, &legacy_box).dependencies, ["behind Classic load balancer legacy"]);

    // Everything is brand new in moto; pretend it was all created (and stopped) 200 days ago.
    let long_ago = Some(chrono::Utc::now().naive_utc() - Duration::days(200));
    let aged: Vec<Resource> = found
        .into_iter()
        .map(|r| Resource { created_at: long_ago, state_since: r.state_since.and(long_ago), ..r })
        .collect();
    let got = findings(&aged, &RulesConfig::default(), &PolicyConfig::default(), chrono::Utc::now().naive_utc());
    let of = |id: &str| got.iter().find(|f| f.resource.reference.id == id);
    let mut idle_lbs: Vec<&str> =
        got.iter().filter(|f| f.rule == "idle_load_balancer").map(|f| f.resource.reference.id.as_str()).collect();
    idle_lbs.sort_unstable();
    let mut want = vec![idle.as_str(), net.as_str(), quiet.as_str(), "legacy"];
    want.sort_unstable();
    assert_eq!(idle_lbs, want, "busy has 4,000 requests a day or more");
    assert!(of(&quiet).unwrap().evidence.contains("at most 99 requests"), "{}", of(&quiet).unwrap().evidence);
    assert_eq!(of(&idle).unwrap().monthly_saving, Money::parse("16.425").ok());
    let stopped = of(&old).unwrap();
    assert_eq!(stopped.action, Action::TerminateInstance);
    assert!(
        matches!(&stopped.path, SafetyPath::Excluded { reason } if reason.contains("idle-tg")),
        "{:?}",
        stopped.path
    );
    let expired = of(&web).unwrap();
    assert_eq!(expired.action, Action::StopInstance);
    assert!(matches!(&expired.path, SafetyPath::Strict { reason } if reason.contains("busy-tg")), "{:?}", expired.path);

    let r = |kind, id: &str| ResourceRef { account: account.clone(), region: "us-east-1".into(), kind, id: id.into() };
    // The re-check before acting reads the memberships again.
    let again = aws.describe(&r(ResourceKind::Ec2Instance, &old)).await.unwrap().unwrap();
    assert_eq!(again.dependencies, ["registered in target group idle-tg"]);
    let lb = r(ResourceKind::LoadBalancer, &idle);
    assert!(matches!(aws.act(&lb, Action::DeleteLoadBalancer, true).await.unwrap(), ActOutcome::DryRun { .. }));
    assert!(aws.describe(&lb).await.unwrap().is_some(), "a dry run deletes nothing");
    aws.act(&lb, Action::DeleteLoadBalancer, false).await.unwrap();
    assert_eq!(aws.describe(&lb).await.unwrap(), None);
    let classic = r(ResourceKind::ClassicLoadBalancer, "legacy");
    assert_eq!(healthy(&aws.describe(&classic).await.unwrap().unwrap()), Some(1));
    aws.act(&classic, Action::DeleteLoadBalancer, false).await.unwrap();
    assert_eq!(aws.describe(&classic).await.unwrap(), None);
    let freed = aws.describe(&r(ResourceKind::Ec2Instance, &legacy_box)).await.unwrap().unwrap();
    assert!(freed.dependencies.is_empty(), "gone with its load balancer: {:?}", freed.dependencies);
}
