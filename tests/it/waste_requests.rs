//! What waste discovery asks AWS, counted at a proxy in front of moto: CloudWatch activity in
//! `GetMetricData` batches of at most 500 queries, and no metric request at all when the rules
//! that need activity are off.

use aws_config::Region;
use aws_sdk_ec2::types::InstanceType;
use costbot::aws::inventory::AwsInventory;
use costbot::config::Config;
use costbot::domain::resource::{CloudInventory, ResourceKind};
use costbot::domain::AccountId;

use crate::support::Moto;
use crate::waste_proxy::CountingProxy;

const PAYER: &str = "123456789012";
const AMI: &str = "ami-03cf127a";

fn config(endpoint: &str, extra: &str) -> Config {
    let toml = format!(
        "[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [waste]\nregions = [\"us-east-1\"]\n{extra}\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n"
    );
    Config::from_toml(&toml).unwrap()
}

async fn sdk(config: &Config) -> aws_config::SdkConfig {
    costbot::aws::base_config(&config.aws).await.to_builder().region(Region::new("us-east-1")).build()
}

#[tokio::test]
async fn idle_rules_off_send_no_metric_request_and_on_send_batches_of_500_queries() {
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.url).await;
    let seed = config(&moto.url, "");
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&seed).await);
    // 170 running instances: 510 CPU and network queries, one over a single request's 500.
    let run = ec2.run_instances().image_id(AMI).instance_type(InstanceType::T3Micro).min_count(170).max_count(170);
    let launched = run.send().await.unwrap();
    let busy = launched.instances()[0].instance_id().unwrap().to_string();
    let rds = aws_sdk_rds::Client::new(&sdk(&seed).await);
    crate::waste_more::create_database(&rds, "reports").await;
    let cw = aws_sdk_cloudwatch::Client::new(&sdk(&seed).await);
    let at = aws_smithy_types::DateTime::from_secs((chrono::Utc::now() - chrono::Duration::hours(2)).timestamp());
    let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name("CPUUtilization")
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("InstanceId").value(&busy).build())
        .timestamp(at)
        .value(42.0)
        .build();
    cw.put_metric_data().namespace("AWS/EC2").metric_data(datum).send().await.unwrap();
    let account = AccountId::parse(PAYER).unwrap();

    let activity_rules =
        ["idle_instance", "underutilized_instance", "idle_database", "idle_nat_gateway", "idle_load_balancer"];
    let off = config(&proxy.url, &format!("[waste.rules]\ndisabled = {activity_rules:?}\n"));
    let found = AwsInventory::from_config(&off).await.unwrap().discover(&account, "us-east-1").await.unwrap();
    assert_eq!(found.iter().filter(|r| r.reference.kind == ResourceKind::Ec2Instance).count(), 170);
    assert_eq!(proxy.count("monitoring"), 0, "no rule needs activity, so no metric request: {:?}", proxy.calls());
    assert!(found.iter().all(|r| r.activity.is_none()));

    proxy.clear();
    let on = config(&proxy.url, "");
    let found = AwsInventory::from_config(&on).await.unwrap().discover(&account, "us-east-1").await.unwrap();
    let metric_calls: Vec<String> = proxy.calls().into_iter().filter(|c| c.starts_with("monitoring:")).collect();
    // 166 instances (498 queries) in the first request; 4 instances and the database in the second.
    assert_eq!(metric_calls, ["monitoring:GetMetricData", "monitoring:GetMetricData"]);
    let cpu = |id: &str| found.iter().find(|r| r.reference.id == id).and_then(|r| r.activity.clone());
    assert_eq!(cpu(&busy).and_then(|a| a.max_cpu_percent), Some(42.0), "datapoints put into moto come back");
    let quiet = launched.instances()[169].instance_id().unwrap();
    assert_eq!(cpu(quiet).map(|a| (a.days, a.max_cpu_percent, a.network_bytes)), Some((14, None, None)));
    assert_eq!(cpu("reports").map(|a| a.max_db_connections), Some(None), "asked about, no datapoints");
    let describes = proxy.calls().len() - metric_calls.len();
    // One page each of volumes, instances, addresses, databases, snapshots, AMIs, DB snapshots,
    // NAT gateways, v2 load balancers, target groups and Classic load balancers: the lists the
    // default rules read (no load balancer, so no health or tag request).
    assert_eq!(describes, 11, "{:?}", proxy.calls());
}
