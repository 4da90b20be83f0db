//! The newer waste kinds against moto: EBS snapshots (a volume that still exists, one that is
//! gone, one an AMI uses), manual RDS snapshots (of a live and of a deleted database), NAT
//! gateways with BytesOutToDestination put into CloudWatch, gp2 volumes; and the actions that
//! change each in moto, dry runs changing nothing.

use aws_config::Region;
use aws_sdk_ec2::types::{DomainType, VolumeType};
use chrono::Duration;
use costbot::aws::inventory::AwsInventory;
use costbot::config::Config;
use costbot::domain::resource::{ActOutcome, Action, CloudInventory, Resource, ResourceKind, ResourceRef};
use costbot::domain::waste::{findings, PolicyConfig, RulesConfig};
use costbot::domain::AccountId;

use crate::support::Moto;

const PAYER: &str = "123456789012";

/// One account (moto's default) searched in us-east-1 through moto at `endpoint` (shared with
/// the load balancer and resize tests).
pub fn config(endpoint: &str) -> Config {
    let toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [waste]\nregions = [\"us-east-1\"]\n[[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n"
    );
    Config::from_toml(&toml).unwrap()
}

async fn clients(config: &Config) -> (aws_sdk_ec2::Client, aws_sdk_rds::Client, aws_sdk_cloudwatch::Client) {
    let sdk = costbot::aws::base_config(&config.aws).await.to_builder().region(Region::new("us-east-1")).build();
    (aws_sdk_ec2::Client::new(&sdk), aws_sdk_rds::Client::new(&sdk), aws_sdk_cloudwatch::Client::new(&sdk))
}

async fn volume(ec2: &aws_sdk_ec2::Client, kind: VolumeType) -> String {
    let out = ec2.create_volume().availability_zone("us-east-1a").size(50).volume_type(kind).send().await.unwrap();
    out.volume_id.unwrap()
}

async fn snapshot(ec2: &aws_sdk_ec2::Client, volume: &str) -> String {
    ec2.create_snapshot().volume_id(volume).send().await.unwrap().snapshot_id.unwrap()
}

/// A small PostgreSQL DB instance in moto (shared with the request-count test).
pub async fn create_database(rds: &aws_sdk_rds::Client, id: &str) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("costbot")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .send()
        .await
        .unwrap();
}

async fn database(rds: &aws_sdk_rds::Client, id: &str) {
    create_database(rds, id).await;
    let snapshot = rds.create_db_snapshot().db_instance_identifier(id).db_snapshot_identifier(format!("{id}-manual"));
    snapshot.send().await.unwrap();
}

async fn nat_gateway(ec2: &aws_sdk_ec2::Client, subnet: &str) -> String {
    let ip = ec2.allocate_address().domain(DomainType::Vpc).send().await.unwrap().allocation_id.unwrap();
    let out = ec2.create_nat_gateway().subnet_id(subnet).allocation_id(ip).send().await.unwrap();
    out.nat_gateway.unwrap().nat_gateway_id.unwrap()
}

async fn bytes_out(cw: &aws_sdk_cloudwatch::Client, nat: &str, value: f64) {
    let at = aws_smithy_types::DateTime::from_secs((chrono::Utc::now() - Duration::days(3)).timestamp());
    let dimension = aws_sdk_cloudwatch::types::Dimension::builder().name("NatGatewayId").value(nat).build();
    let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name("BytesOutToDestination")
        .dimensions(dimension)
        .timestamp(at)
        .value(value)
        .build();
    cw.put_metric_data().namespace("AWS/NATGateway").metric_data(datum).send().await.unwrap();
}

fn find<'a>(resources: &'a [Resource], id: &str) -> &'a Resource {
    resources.iter().find(|r| r.reference.id == id).unwrap_or_else(|| panic!("{id} was not discovered"))
}

#[tokio::test]
async fn snapshots_nat_gateways_and_gp2_volumes_are_discovered_judged_and_acted_on() {
    let moto = Moto::start().await;
    let config = config(&moto.url);
    let (ec2, rds, cw) = clients(&config).await;
    let kept = volume(&ec2, VolumeType::Gp2).await;
    let of_kept = snapshot(&ec2, &kept).await;
    let gone = volume(&ec2, VolumeType::Gp3).await;
    let orphan = snapshot(&ec2, &gone).await;
    ec2.delete_volume().volume_id(&gone).send().await.unwrap();
    // moto gives a registered AMI a snapshot of its own (whatever mapping is asked for).
    let ami = ec2.register_image().name("golden").root_device_name("/dev/sda1").send().await.unwrap().image_id.unwrap();
    let image = ec2.describe_images().image_ids(&ami).send().await.unwrap();
    let imaged = image.images()[0].block_device_mappings()[0].ebs().unwrap().snapshot_id().unwrap().to_string();
    database(&rds, "live").await;
    database(&rds, "dropped").await;
    rds.delete_db_instance().db_instance_identifier("dropped").skip_final_snapshot(true).send().await.unwrap();
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block("10.0.1.0/24").send().await.unwrap();
    let subnet = subnet.subnet.unwrap().subnet_id.unwrap();
    let (idle, busy, silent) =
        (nat_gateway(&ec2, &subnet).await, nat_gateway(&ec2, &subnet).await, nat_gateway(&ec2, &subnet).await);
    bytes_out(&cw, &idle, 0.0).await;
    bytes_out(&cw, &busy, 1_000.0).await;

    let aws = AwsInventory::from_config(&config).await.unwrap();
    let account = AccountId::parse(PAYER).unwrap();
    let found = aws.discover(&account, "us-east-1").await.unwrap();
    assert_eq!(find(&found, &of_kept).dependencies, [format!("taken from volume {kept}, which still exists")]);
    assert!(find(&found, &imaged).dependencies.contains(&format!("used by AMI {ami}")), "{:?}", find(&found, &imaged));
    let o = find(&found, &orphan);
    assert_eq!((o.reference.kind, o.dependencies.len(), o.storage_gib), (ResourceKind::EbsSnapshot, 0, Some(50)));
    assert_eq!(o.monthly_cost, Some(costbot::domain::Money::parse("2.5").unwrap()), "50 GiB at $0.05");
    assert_eq!(find(&found, "live-manual").dependencies, ["of DB instance live, which still exists"]);
    assert!(find(&found, "dropped-manual").dependencies.is_empty());
    let nat = |id: &str| find(&found, id).activity.clone().map(|a| (a.days, a.network_bytes));
    assert_eq!((nat(&idle), nat(&busy), nat(&silent)), (Some((30, Some(0))), Some((30, Some(1000))), Some((30, None))));

    // Everything is brand new in moto; pretend it was all created 200 days ago.
    let aged: Vec<Resource> = found
        .into_iter()
        .map(|r| Resource { created_at: Some(chrono::Utc::now().naive_utc() - Duration::days(200)), ..r })
        .collect();
    let mut got: Vec<(String, String)> =
        findings(&aged, &RulesConfig::default(), &PolicyConfig::default(), chrono::Utc::now().naive_utc())
            .into_iter()
            // moto also lists hundreds of snapshots of its bundled AMIs as this account's.
            .filter(|f| {
                f.rule != "unassociated_ip"
                    && (f.rule != "old_snapshot" || [&orphan, &of_kept, &imaged].contains(&&f.resource.reference.id))
            })
            .map(|f| (f.rule, f.resource.reference.id))
            .collect();
    got.sort();
    let mut want = vec![
        ("idle_nat_gateway".to_string(), idle.clone()),
        ("old_snapshot".to_string(), orphan.clone()),
        ("orphaned_db_snapshot".to_string(), "dropped-manual".to_string()),
        ("unattached_volume".to_string(), kept.clone()),
    ];
    want.sort();
    assert_eq!(got, want);

    let r = |kind, id: &str| ResourceRef { account: account.clone(), region: "us-east-1".into(), kind, id: id.into() };
    let v = r(ResourceKind::EbsVolume, &kept);
    assert!(matches!(aws.act(&v, Action::ModifyVolumeToGp3, true).await.unwrap(), ActOutcome::DryRun { .. }));
    assert_eq!(
        aws.describe(&v).await.unwrap().unwrap().size_class.as_deref(),
        Some("gp2"),
        "a dry run changes nothing"
    );
    aws.act(&v, Action::ModifyVolumeToGp3, false).await.unwrap();
    assert_eq!(aws.describe(&v).await.unwrap().unwrap().size_class.as_deref(), Some("gp3"));
    let s = r(ResourceKind::EbsSnapshot, &orphan);
    assert!(matches!(aws.act(&s, Action::DeleteSnapshot, true).await.unwrap(), ActOutcome::DryRun { .. }));
    assert!(aws.describe(&s).await.unwrap().is_some());
    aws.act(&s, Action::DeleteSnapshot, false).await.unwrap();
    assert_eq!(aws.describe(&s).await.unwrap(), None);
    let d = r(ResourceKind::RdsSnapshot, "dropped-manual");
    assert!(matches!(aws.act(&d, Action::DeleteDbSnapshot, true).await.unwrap(), ActOutcome::DryRun { .. }));
    aws.act(&d, Action::DeleteDbSnapshot, false).await.unwrap();
    assert_eq!(aws.describe(&d).await.unwrap(), None);
    let n = r(ResourceKind::NatGateway, &idle);
    // moto 5.2.5 ignores DryRun on DeleteNatGateway (it deletes), so only the real call is
    // checked here; AWS honours the flag as for every EC2 call.
    aws.act(&n, Action::DeleteNatGateway, false).await.unwrap();
    let after = aws.describe(&n).await.unwrap().map(|n| n.state);
    assert!(matches!(after.as_deref(), None | Some("deleting" | "deleted")), "{after:?}");
}
