//! The AWS inventory against moto: discovery across two accounts (one through an assumed
//! role) and two regions, every page read, actions that really change moto, dry runs that do
//! not, CloudWatch activity, and a missing permission named in the error.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::types::{DomainType, InstanceType, ResourceType, Tag, TagSpecification, VolumeType};
use chrono::{Duration, NaiveDateTime};
use costbot::aws::inventory::AwsInventory;
use costbot::aws::inventory_act::AwsCallError;
use costbot::config::Config;
use costbot::discovery::Discovery;
use costbot::domain::prices::PriceTable;
use costbot::domain::resource::{ActOutcome, Action, CloudInventory, Resource, ResourceKind, ResourceRef, SafetyPath};
use costbot::domain::waste::{findings, PolicyConfig, RulesConfig};
use costbot::domain::{AccountId, Money};
use costbot::store::{DynStore, SqliteStore};

use crate::support::{Moto, EXTERNAL_ID_ENV};

/// moto's default account: what the ambient test credentials map to.
const PAYER: &str = "123456789012";
/// A second account reached by assuming a role.
const OTHER: &str = "210987654321";
/// An AMI moto ships with.
const AMI: &str = "ami-03cf127a";

fn config(endpoint: &str) -> Config {
    let toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [waste]\nregions = [\"us-east-1\", \"eu-west-1\"]\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n\
         [[accounts]]\nid = \"{OTHER}\"\nrole_arn = \"arn:aws:iam::{OTHER}:role/costbot-waste\"\nexternal_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n"
    );
    Config::from_toml(&toml).unwrap()
}

/// SDK configuration with an account's credentials (assumed role for OTHER), for seeding.
async fn sdk(config: &Config, account: &str, region: &str) -> SdkConfig {
    let base = costbot::aws::base_config(&config.aws).await;
    let account = config.accounts.iter().find(|a| a.id.as_str() == account).unwrap();
    let sdk = costbot::aws::account_config(&base, account).await.unwrap();
    sdk.to_builder().region(Region::new(region.to_string())).build()
}

async fn ec2(config: &Config, account: &str, region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk(config, account, region).await)
}

async fn run_instance(ec2: &aws_sdk_ec2::Client, instance_type: &str, tags: &[(&str, &str)]) -> String {
    let mut request =
        ec2.run_instances().image_id(AMI).instance_type(InstanceType::from(instance_type)).min_count(1).max_count(1);
    if !tags.is_empty() {
        let spec = tags.iter().fold(TagSpecification::builder().resource_type(ResourceType::Instance), |s, (k, v)| {
            s.tags(Tag::builder().key(*k).value(*v).build())
        });
        request = request.tag_specifications(spec.build());
    }
    request.send().await.unwrap().instances()[0].instance_id().unwrap().to_string()
}

async fn stop(ec2: &aws_sdk_ec2::Client, id: &str) {
    ec2.stop_instances().instance_ids(id).send().await.unwrap();
}

async fn volume(ec2: &aws_sdk_ec2::Client, region: &str, gib: i32, kind: VolumeType) -> String {
    let out =
        ec2.create_volume().availability_zone(format!("{region}a")).size(gib).volume_type(kind).send().await.unwrap();
    out.volume_id().unwrap().to_string()
}

async fn address(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.allocate_address().domain(DomainType::Vpc).send().await.unwrap().allocation_id().unwrap().to_string()
}

async fn database(config: &Config, account: &str, id: &str, tags: &[(&str, &str)]) {
    let rds = aws_sdk_rds::Client::new(&sdk(config, account, "us-east-1").await);
    let mut request = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("costbot")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20);
    for (k, v) in tags {
        request = request.tags(aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build());
    }
    request.send().await.unwrap();
}

fn acct(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn reference(account: &str, kind: ResourceKind, id: &str) -> ResourceRef {
    ResourceRef { account: acct(account), region: "us-east-1".into(), kind, id: id.into() }
}

fn find<'a>(resources: &'a [Resource], id: &str) -> &'a Resource {
    resources.iter().find(|r| r.reference.id == id).unwrap_or_else(|| panic!("{id} was not discovered"))
}

fn money(text: &str) -> Option<Money> {
    Some(Money::parse(text).unwrap())
}

fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

#[tokio::test]
async fn discovery_reads_two_accounts_and_two_regions_to_the_last_page() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let payer = ec2(&config, PAYER, "us-east-1").await;
    // Twelve separate reservations: moto pages DescribeInstances by reservation.
    let mut web = Vec::new();
    for _ in 0..12 {
        web.push(run_instance(&payer, "t3.micro", &[("Team", "web")]).await);
    }
    let stopped = run_instance(&payer, "m5.large", &[("aws:autoscaling:groupName", "web-asg")]).await;
    let root = volume(&payer, "us-east-1", 8, VolumeType::Gp3).await;
    payer.attach_volume().volume_id(&root).instance_id(&stopped).device("/dev/sdf").send().await.unwrap();
    stop(&payer, &stopped).await;
    let loose = volume(&payer, "us-east-1", 100, VolumeType::Gp3).await;
    let idle_ip = address(&payer).await;
    let used_ip = address(&payer).await;
    payer.associate_address().allocation_id(&used_ip).instance_id(&web[0]).send().await.unwrap();
    database(&config, PAYER, "orders", &[("Environment", "Production")]).await;
    let europe = run_instance(&ec2(&config, PAYER, "eu-west-1").await, "c5.large", &[]).await;
    let other = ec2(&config, OTHER, "us-east-1").await;
    let other_stopped = run_instance(&other, "t3.large", &[("Owner", "dana")]).await;
    stop(&other, &other_stopped).await;
    let other_volume = volume(&other, "us-east-1", 500, VolumeType::Sc1).await;
    database(&config, OTHER, "reports-dev", &[]).await;

    // moto really pages: five reservations and a token.
    let first = payer.describe_instances().max_results(5).send().await.unwrap();
    assert_eq!((first.reservations().len(), first.next_token().is_some()), (5, true));

    let inventory = Arc::new(AwsInventory::from_config(&config).await.unwrap().with_page_size(5));
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let report = Discovery::from_config(&config, store.clone(), inventory).unwrap().run(now()).await.unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(report.targets_ok, 4, "2 accounts x 2 regions");

    let rows: Vec<Resource> = store.inventory(false).await.unwrap().into_iter().map(|(r, _, _)| r).collect();
    let of = |account: &str, region: &str, kind| {
        rows.iter()
            .filter(|r| {
                r.reference.account == acct(account) && r.reference.region == region && r.reference.kind == kind
            })
            .count()
    };
    assert_eq!(of(PAYER, "us-east-1", ResourceKind::Ec2Instance), 13, "all three pages of instances");
    // moto gives every instance an 8 GiB gp2 root volume, as AWS does: 13 roots, one extra, one loose.
    assert_eq!(
        (of(PAYER, "us-east-1", ResourceKind::EbsVolume), of(PAYER, "us-east-1", ResourceKind::ElasticIp)),
        (15, 2)
    );
    assert_eq!(of(PAYER, "us-east-1", ResourceKind::RdsInstance), 1);
    assert_eq!(of(PAYER, "eu-west-1", ResourceKind::Ec2Instance), 1);
    assert_eq!(
        (of(OTHER, "us-east-1", ResourceKind::Ec2Instance), of(OTHER, "us-east-1", ResourceKind::EbsVolume)),
        (1, 2)
    );
    assert_eq!(
        (of(OTHER, "us-east-1", ResourceKind::RdsInstance), of(OTHER, "eu-west-1", ResourceKind::Ec2Instance)),
        (1, 0)
    );

    let web0 = find(&rows, &web[0]);
    assert_eq!((web0.state.as_str(), web0.tag("team"), web0.monthly_cost), ("running", Some("web"), money("7.592")));
    let s = find(&rows, &stopped);
    assert_eq!(
        (s.state.as_str(), s.dependencies.clone()),
        ("stopped", vec!["in Auto Scaling group web-asg".to_string()])
    );
    assert!(
        s.state_since.is_some_and(|t| (now() - t).num_minutes().abs() < 10),
        "parsed from StateTransitionReason: {:?}",
        s.state_since
    );
    assert_eq!(
        s.monthly_cost,
        money("1.44"),
        "a stopped instance costs its attached volumes: 8 GiB gp2 root + 8 GiB gp3"
    );
    assert_eq!(find(&rows, &root).dependencies, [format!("attached to {stopped}")]);
    let l = find(&rows, &loose);
    assert_eq!(
        (l.state.as_str(), l.storage_gib, l.size_class.as_deref(), l.monthly_cost),
        ("available", Some(100), Some("gp3"), money("8"))
    );
    assert_eq!(find(&rows, &idle_ip).state, "unassociated");
    assert_eq!(find(&rows, &used_ip).dependencies, [format!("associated with {}", web[0])]);
    let orders = find(&rows, "orders");
    assert_eq!(
        (orders.tag("environment"), orders.size_class.as_deref(), orders.storage_gib),
        (Some("Production"), Some("db.t3.micro"), Some(20))
    );
    assert_eq!(find(&rows, &europe).reference.region, "eu-west-1");
    let o = find(&rows, &other_stopped);
    assert_eq!((o.reference.account.as_str(), o.tag("Owner")), (OTHER, Some("dana")));
    assert_eq!(find(&rows, &other_volume).monthly_cost, money("7.5"), "500 GiB sc1");
    assert_eq!(find(&rows, "reports-dev").reference.account.as_str(), OTHER);

    // Everything is brand new, so only the idle address is waste right now.
    let found: Vec<(&str, &str)> =
        report.findings.iter().map(|f| (f.rule.as_str(), f.resource.reference.id.as_str())).collect();
    assert_eq!(found, [("unassociated_ip", idle_ip.as_str())]);
    assert_eq!(report.findings[0].path, SafetyPath::Normal);
}

#[tokio::test]
async fn actions_change_moto_and_dry_runs_change_nothing() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let payer = ec2(&config, PAYER, "us-east-1").await;
    let instance = run_instance(&payer, "t3.micro", &[]).await;
    let vol = volume(&payer, "us-east-1", 10, VolumeType::Gp2).await;
    let ip = address(&payer).await;
    database(&config, OTHER, "scratch", &[]).await;
    let aws = AwsInventory::from_config(&config).await.unwrap();
    let i = reference(PAYER, ResourceKind::Ec2Instance, &instance);

    let dry = aws.act(&i, Action::StopInstance, true).await.unwrap();
    assert_eq!(
        dry,
        ActOutcome::DryRun { detail: format!("AWS confirmed that ec2:StopInstances on {instance} would succeed") }
    );
    assert_eq!(aws.describe(&i).await.unwrap().unwrap().state, "running", "a dry run changes nothing");
    assert!(matches!(aws.act(&i, Action::StopInstance, false).await.unwrap(), ActOutcome::Done { .. }));
    assert_eq!(aws.describe(&i).await.unwrap().unwrap().state, "stopped");
    assert!(matches!(aws.act(&i, Action::TerminateInstance, true).await.unwrap(), ActOutcome::DryRun { .. }));
    assert_eq!(aws.describe(&i).await.unwrap().unwrap().state, "stopped");
    aws.act(&i, Action::TerminateInstance, false).await.unwrap();
    assert_eq!(
        aws.describe(&i).await.unwrap().unwrap().state,
        "terminated",
        "EC2 shows terminated instances for a while"
    );

    let v = reference(PAYER, ResourceKind::EbsVolume, &vol);
    assert!(matches!(aws.act(&v, Action::DeleteVolume, true).await.unwrap(), ActOutcome::DryRun { .. }));
    assert_eq!(aws.describe(&v).await.unwrap().unwrap().state, "available");
    assert_eq!(
        aws.act(&v, Action::DeleteVolume, false).await.unwrap(),
        ActOutcome::Done { new_state: "deleted".into() }
    );
    assert_eq!(aws.describe(&v).await.unwrap(), None, "a deleted volume is gone");

    let a = reference(PAYER, ResourceKind::ElasticIp, &ip);
    assert!(matches!(aws.act(&a, Action::ReleaseAddress, true).await.unwrap(), ActOutcome::DryRun { .. }));
    assert!(aws.describe(&a).await.unwrap().is_some());
    aws.act(&a, Action::ReleaseAddress, false).await.unwrap();
    assert_eq!(aws.describe(&a).await.unwrap(), None);

    // RDS, in the role account: dry runs describe and stop short; stop and delete are real.
    let db = reference(OTHER, ResourceKind::RdsInstance, "scratch");
    let ActOutcome::DryRun { detail } = aws.act(&db, Action::StopDatabase, true).await.unwrap() else {
        panic!("expected a dry run")
    };
    assert!(detail.starts_with("would stop db scratch (now available)"), "{detail}");
    assert_eq!(aws.describe(&db).await.unwrap().unwrap().state, "available");
    aws.act(&db, Action::StopDatabase, false).await.unwrap();
    assert_eq!(aws.describe(&db).await.unwrap().unwrap().state, "stopped");
    aws.act(&db, Action::DeleteDatabaseWithSnapshot, false).await.unwrap();
    assert_eq!(aws.describe(&db).await.unwrap(), None);
    let rds = aws_sdk_rds::Client::new(&sdk(&config, OTHER, "us-east-1").await);
    let snapshots = rds.describe_db_snapshots().db_instance_identifier("scratch").send().await.unwrap();
    let names: Vec<&str> = snapshots.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("costbot-final-scratch-") && n.len() == "costbot-final-scratch-".len() + 12),
        "{names:?}"
    );

    // Things that never existed describe as None; a wrong action is refused before AWS.
    for (kind, id) in [
        (ResourceKind::Ec2Instance, "i-0123456789abcdef0"),
        (ResourceKind::EbsVolume, "vol-0123456789abcdef0"),
        (ResourceKind::ElasticIp, "eipalloc-0123456789abcdef0"),
        (ResourceKind::RdsInstance, "nope"),
    ] {
        assert_eq!(aws.describe(&reference(PAYER, kind, id)).await.unwrap(), None, "{id}");
    }
    let err = aws.act(&v, Action::StopInstance, false).await.unwrap_err();
    assert!(format!("{err:#}").contains("cannot stop a ebs_volume"), "{err:#}");
}

async fn put(cw: &aws_sdk_cloudwatch::Client, instance: &str, metric: &str, value: f64, hours_ago: i64) {
    let at = aws_smithy_types::DateTime::from_secs((chrono::Utc::now() - Duration::hours(hours_ago)).timestamp());
    let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name(metric)
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("InstanceId").value(instance).build())
        .timestamp(at)
        .value(value)
        .build();
    cw.put_metric_data().namespace("AWS/EC2").metric_data(datum).send().await.unwrap();
}

#[tokio::test]
async fn activity_comes_from_cloudwatch_and_no_data_is_never_idle() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let payer = ec2(&config, PAYER, "us-east-1").await;
    let (busy, quiet, low) = (
        run_instance(&payer, "m5.large", &[]).await,
        run_instance(&payer, "m5.large", &[]).await,
        run_instance(&payer, "m5.large", &[]).await,
    );
    let cw = aws_sdk_cloudwatch::Client::new(&sdk(&config, PAYER, "us-east-1").await);
    put(&cw, &busy, "CPUUtilization", 80.0, 2).await;
    put(&cw, &busy, "CPUUtilization", 35.0, 30).await;
    put(&cw, &busy, "NetworkIn", 5e9, 2).await;
    put(&cw, &low, "CPUUtilization", 1.5, 3).await;
    put(&cw, &low, "NetworkIn", 1000.0, 3).await;
    put(&cw, &low, "NetworkOut", 500.0, 50).await;

    let aws = AwsInventory::from_config(&config).await.unwrap();
    let found = aws.discover(&acct(PAYER), "us-east-1").await.unwrap();
    let activity = |id: &str| find(&found, id).activity.clone().unwrap();
    let b = activity(&busy);
    assert_eq!((b.days, b.max_cpu_percent, b.network_bytes), (14, Some(80.0), Some(5_000_000_000)));
    let q = activity(&quiet);
    assert_eq!((q.max_cpu_percent, q.network_bytes), (None, None), "no datapoints is unknown, not zero");
    let l = activity(&low);
    assert_eq!((l.max_cpu_percent, l.network_bytes), (Some(1.5), Some(1500)));

    // Pretend all three were launched a month ago so the window is covered: only the one
    // with low measured activity is idle; the one without data is not.
    let aged: Vec<Resource> =
        found.into_iter().map(|r| Resource { created_at: Some(now() - Duration::days(30)), ..r }).collect();
    let rules = RulesConfig::default();
    let idle: Vec<String> = findings(&aged, &rules, &PolicyConfig::default(), now())
        .into_iter()
        .map(|f| format!("{} {}", f.rule, f.resource.reference.id))
        .collect();
    assert_eq!(idle, [format!("idle_instance {low}")]);
    assert_eq!(PriceTable::bundled().ec2_monthly("m5.large"), find(&aged, &low).monthly_cost);
}

#[tokio::test]
async fn a_missing_permission_is_named_in_the_error() {
    crate::support::init();
    // A fake EC2 endpoint that refuses everything the way EC2 does.
    let app = axum::Router::new().fallback(|| async {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code>\
                   <Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>fake</RequestID></Response>";
        (axum::http::StatusCode::FORBIDDEN, [("content-type", "text/xml")], xml)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&url)
        .load()
        .await;
    let aws = AwsInventory::new(HashMap::from([(acct(PAYER), sdk)]), PriceTable::bundled(), 14);
    let err =
        aws.act(&reference(PAYER, ResourceKind::Ec2Instance, "i-1"), Action::StopInstance, true).await.unwrap_err();
    let call = err.downcast_ref::<AwsCallError>().expect("an AwsCallError a caller can branch on");
    assert!(
        matches!(call, AwsCallError::MissingPermission { permission, .. } if permission == "ec2:StopInstances"),
        "{call:?}"
    );
    assert!(format!("{err:#}").contains("stop ec2_instance i-1"), "the error says what was being done: {err:#}");
}
