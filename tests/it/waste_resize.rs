//! The sizing rules against moto: an m5.2xlarge with five low days of CPU and network put
//! into CloudWatch is underutilized (day-by-day activity from the same `GetMetricData`
//! queries), an m4.large is previous generation; both need two approvers; and the resize
//! action (stop, modify the type, start) changes the type in moto, a dry run nothing.

use aws_config::Region;
use aws_sdk_ec2::types::InstanceType;
use chrono::{Duration, Timelike};
use costbot::aws::inventory::AwsInventory;
use costbot::domain::resource::{ActOutcome, Action, CloudInventory, Resource, ResourceKind, ResourceRef, SafetyPath};
use costbot::domain::waste::{findings, PolicyConfig, RulesConfig};
use costbot::domain::{AccountId, Money};

use crate::support::Moto;
use crate::waste_more::config;

const PAYER: &str = "123456789012";

fn datum(
    metric: &str,
    instance: &str,
    at: chrono::DateTime<chrono::Utc>,
    value: f64,
) -> aws_sdk_cloudwatch::types::MetricDatum {
    aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name(metric)
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("InstanceId").value(instance).build())
        .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
        .value(value)
        .build()
}

/// Five quiet days, two to six days ago (2 % CPU every hour and 2 kB of network a day), and
/// a busy one eight days ago (60 % CPU, 1.8 GB), so the instance is not idle, only
/// underutilized.
async fn quiet_days(cw: &aws_sdk_cloudwatch::Client, instance: &str) {
    let midnight = chrono::Utc::now().with_hour(0).unwrap().with_minute(0).unwrap().with_second(0).unwrap();
    for days_ago in [2, 3, 4, 5, 6, 8] {
        let (cpu, bytes) = if days_ago == 8 { (60.0, 900_000_000.0) } else { (2.0, 1_000.0) };
        let day = midnight - Duration::days(days_ago);
        let mut data: Vec<_> =
            (0..24).map(|h| datum("CPUUtilization", instance, day + Duration::hours(h), cpu)).collect();
        data.push(datum("NetworkIn", instance, day + Duration::hours(12), bytes));
        data.push(datum("NetworkOut", instance, day + Duration::hours(12), bytes));
        cw.put_metric_data().namespace("AWS/EC2").set_metric_data(Some(data)).send().await.unwrap();
    }
}

fn find<'a>(resources: &'a [Resource], id: &str) -> &'a Resource {
    resources.iter().find(|r| r.reference.id == id).unwrap_or_else(|| panic!("{id} was not discovered"))
}

#[tokio::test]
async fn underutilized_and_previous_generation_instances_are_resized_in_moto_by_two_approvers() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let sdk = costbot::aws::base_config(&config.aws).await.to_builder().region(Region::new("us-east-1")).build();
    let (ec2, cw) = (aws_sdk_ec2::Client::new(&sdk), aws_sdk_cloudwatch::Client::new(&sdk));
    let big = crate::waste_lb::instance(&ec2, InstanceType::M52xlarge, None).await;
    let old = crate::waste_lb::instance(&ec2, InstanceType::M4Large, None).await;
    quiet_days(&cw, &big).await;

    let aws = AwsInventory::from_config(&config).await.unwrap();
    let account = AccountId::parse(PAYER).unwrap();
    let found = aws.discover(&account, "us-east-1").await.unwrap();
    let daily = &find(&found, &big).activity.as_ref().unwrap().daily;
    let low = daily.iter().filter(|d| d.cpu_percent.is_some_and(|c| c <= 10.0) && d.network_bytes == Some(2_000));
    assert_eq!(low.count(), 5, "five quiet days, each with CPU and network: {daily:?}");

    // moto launches everything now; pretend both were launched 200 days ago.
    let long_ago = Some(chrono::Utc::now().naive_utc() - Duration::days(200));
    let aged: Vec<Resource> = found.into_iter().map(|r| Resource { created_at: long_ago, ..r }).collect();
    let got = findings(&aged, &RulesConfig::default(), &PolicyConfig::default(), chrono::Utc::now().naive_utc());
    let of = |id: &str| got.iter().find(|f| f.resource.reference.id == id).unwrap();
    let (resize, modernize) = (of(&big), of(&old));
    assert_eq!((resize.rule.as_str(), resize.action), ("underutilized_instance", Action::ResizeInstance));
    assert_eq!(resize.monthly_saving, Money::parse("140.16").ok(), "m5.2xlarge to m5.xlarge");
    assert_eq!((modernize.rule.as_str(), modernize.action), ("previous_generation", Action::ModernizeInstance));
    assert_eq!(modernize.monthly_saving, Money::parse("2.92").ok(), "m4.large to m5.large");
    for f in [resize, modernize] {
        assert!(matches!(&f.path, SafetyPath::Strict { reason } if reason.contains("downtime")), "{:?}", f.path);
    }

    let r = |id: &str| ResourceRef {
        account: account.clone(),
        region: "us-east-1".into(),
        kind: ResourceKind::Ec2Instance,
        id: id.into(),
    };
    let now = |id: &str| {
        let aws = &aws;
        let r = r(id);
        async move {
            let i = aws.describe(&r).await.unwrap().unwrap();
            (i.size_class.unwrap(), i.state)
        }
    };
    let dry = aws.act(&r(&big), Action::ResizeInstance, true).await.unwrap();
    assert!(matches!(&dry, ActOutcome::DryRun { detail } if detail.contains("m5.xlarge")), "{dry:?}");
    assert_eq!(now(&big).await, ("m5.2xlarge".to_string(), "running".to_string()), "a dry run changes nothing");
    let done = aws.act(&r(&big), Action::ResizeInstance, false).await.unwrap();
    assert!(matches!(&done, ActOutcome::Done { new_state } if new_state.starts_with("m5.xlarge")), "{done:?}");
    assert_eq!(now(&big).await.0, "m5.xlarge");
    assert!(matches!(now(&big).await.1.as_str(), "pending" | "running"), "started again");
    aws.act(&r(&old), Action::ModernizeInstance, false).await.unwrap();
    assert_eq!(now(&old).await.0, "m5.large");
}

/// Through the real bot and execution worker: the previous-generation proposal needs two
/// approvers (one is not enough), is re-checked against moto right before acting, and the
/// worker's resize leaves the instance on the current generation, running.
#[sqlx::test(migrations = "migrations/postgres")]
async fn a_resize_waits_for_two_approvers_and_is_re_checked_before_acting(pool: sqlx::PgPool) {
    use costbot::chat::{Actor, FollowUp, Inbound};
    use costbot::domain::chat::message::{ActionRef, Verb};
    use costbot::domain::chat::{ChannelId, Platform, UserId};
    use costbot::domain::proposal::State;

    let moto = Moto::start().await;
    let config = crate::waste_flow::config(&moto.url, false);
    let ec2 = crate::waste_flow::ec2(&config).await;
    let old = crate::waste_lb::instance(&ec2, InstanceType::M4Large, None).await;
    let now = chrono::Utc::now().naive_utc();
    let app = std::sync::Arc::new(
        costbot::app::App::with_store(config, std::sync::Arc::new(costbot::store::PgStore::from_pool(pool)), now)
            .await
            .unwrap(),
    );
    app.discover_and_propose(now).await.unwrap();
    let pending = app.store.proposals_in(&["pending"]).await.unwrap();
    let p = pending.iter().find(|p| p.finding.resource.reference.id == old).expect("proposed");
    assert_eq!((p.finding.rule.as_str(), p.required_approvals), ("previous_generation", 2), "{p:?}");
    let approve = |user: &str, version: u32| {
        let actor = Actor {
            platform: Platform::Slack,
            user: UserId(user.into()),
            roles: vec![],
            channel: ChannelId("C1".into()),
        };
        let action = ActionRef { verb: Verb::Approve, target: p.id.0.clone(), version };
        app.bot.handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, now)
    };
    approve("U1", 1).await;
    app.executor("replica-a").unwrap().run_once(chrono::Utc::now().naive_utc()).await.unwrap();
    assert_eq!(crate::waste_flow::state(&ec2, &old).await, "running");
    let out = ec2.describe_instances().instance_ids(&old).send().await.unwrap();
    let kind = |out: &aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput| {
        out.reservations()[0].instances()[0].instance_type().unwrap().as_str().to_string()
    };
    assert_eq!(kind(&out), "m4.large", "one approver is not enough for downtime");
    approve("U2", 2).await;
    app.executor("replica-a").unwrap().run_once(chrono::Utc::now().naive_utc()).await.unwrap();
    let out = ec2.describe_instances().instance_ids(&old).send().await.unwrap();
    assert_eq!(kind(&out), "m5.large");
    assert!(["pending", "running"].contains(&crate::waste_flow::state(&ec2, &old).await.as_str()));
    let done = app.store.proposal(&p.id).await.unwrap().unwrap();
    assert!(
        matches!(&done.state, State::Done { dry_run: false, outcome } if outcome.contains("m5.large")),
        "{:?}",
        done.state
    );
}
