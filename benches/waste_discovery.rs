//! Waste discovery against Cloud Custodian on the same moto inventory: 3 regions, 1,200
//! instances (300 stopped, 300 running with an expired `expires-at` tag, 600 running and
//! fine), 600 unattached volumes and 300 unassociated Elastic IPs: 1,500 expected findings.
//!
//! costbot runs its discovery job (`Discovery::run`: every list, CloudWatch activity for what
//! the idle rules could flag, the inventory stored in SQLite, the rules applied) twice, with
//! the idle rules on and off. Cloud Custodian runs four equivalent policies with
//! `custodian run --dryrun` (from `$COSTBOT_CUSTODIAN`, else `custodian` on PATH). Both
//! tools' requests are counted from moto's request log (one line per request), and each
//! tool's findings are checked against the seeded ones.
//!
//! Run: `cargo bench --bench waste_discovery` (moto from `$COSTBOT_MOTO_SERVER`, else
//! `moto_server`). Under `cargo test --all-targets` (no `--bench` flag) it runs a small smoke
//! pass and skips Cloud Custodian unless `$COSTBOT_CUSTODIAN` is set. moto cannot backdate
//! launch or stop times, so costbot's age limits are set to 0 days here; the Custodian
//! policies have no age filter either.

#[path = "../tests/it/waste_proxy.rs"]
mod waste_proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::types::{DomainType, InstanceType, ResourceType, Tag, TagSpecification};
use costbot::aws::inventory::AwsInventory;
use costbot::config::Config;
use costbot::discovery::Discovery;
use costbot::store::{DynStore, SqliteStore};
use futures::stream::{self, StreamExt};

const PAYER: &str = "123456789012";
const AMI: &str = "ami-03cf127a";
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "us-west-2"];

/// Per region.
struct Size {
    stopped: i32,
    expired: i32,
    fine: i32,
    volumes: usize,
    addresses: usize,
}

/// The seeded waste, by costbot rule id (Custodian's policy names are the same words).
type Expected = BTreeMap<&'static str, BTreeSet<String>>;

const POLICY: &str = r#"policies:
  - name: stopped_instance
    resource: aws.ec2
    filters:
      - "State.Name": stopped
  - name: expired_ttl
    resource: aws.ec2
    filters:
      - type: value
        key: "tag:expires-at"
        value_type: expiration
        op: less-than
        value: 0
  - name: unattached_volume
    resource: aws.ebs
    filters:
      - Attachments: []
  - name: unassociated_ip
    resource: aws.elastic-ip
    filters:
      - AssociationId: absent
"#;

struct Moto {
    url: String,
    log: PathBuf,
    child: std::process::Child,
}

impl Moto {
    fn start(dir: &Path) -> Result<Moto> {
        let program = std::env::var("COSTBOT_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.join("moto.log");
        let child = std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        Ok(Moto { url: format!("http://127.0.0.1:{port}"), log, child })
    }

    /// Requests moto has answered so far: werkzeug logs one `"METHOD /path HTTP/1.1" status` line each.
    fn requests(&self) -> Result<usize> {
        Ok(std::fs::read_to_string(&self.log)?.lines().filter(|l| l.contains(" HTTP/1.1\" ")).count())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sdk(url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(url)
        .load()
        .await
}

async fn wait_for(url: &str) -> Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client.get(format!("{url}/moto-api/")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("moto did not answer on {url}")
}

async fn launch(ec2: &aws_sdk_ec2::Client, count: i32, expired: bool) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut left = count;
    while left > 0 {
        let n = left.min(100);
        let mut run = ec2.run_instances().image_id(AMI).instance_type(InstanceType::T3Micro).min_count(n).max_count(n);
        if expired {
            let tag = Tag::builder().key("expires-at").value("2026-01-01").build();
            run = run.tag_specifications(
                TagSpecification::builder().resource_type(ResourceType::Instance).tags(tag).build(),
            );
        }
        let out = run.send().await?;
        ids.extend(out.instances().iter().filter_map(|i| i.instance_id()).map(str::to_string));
        left -= n;
    }
    Ok(ids)
}

async fn seed_region(url: &str, region: &str, size: &Size, expected: &mut Expected) -> Result<()> {
    let ec2 = aws_sdk_ec2::Client::new(&sdk(url, region).await);
    let stopped = launch(&ec2, size.stopped, false).await?;
    for chunk in stopped.chunks(100) {
        ec2.stop_instances().set_instance_ids(Some(chunk.to_vec())).send().await?;
    }
    let expired = launch(&ec2, size.expired, true).await?;
    launch(&ec2, size.fine, false).await?;
    let zone = format!("{region}a");
    let volumes: Vec<String> = stream::iter(0..size.volumes)
        .map(|_| {
            let (ec2, zone) = (&ec2, &zone);
            async move { ec2.create_volume().availability_zone(zone).size(10).send().await.map(|v| v.volume_id) }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let addresses: Vec<String> = stream::iter(0..size.addresses)
        .map(|_| {
            let ec2 = &ec2;
            async move { ec2.allocate_address().domain(DomainType::Vpc).send().await.map(|a| a.allocation_id) }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    for (rule, ids) in [
        ("stopped_instance", stopped),
        ("expired_ttl", expired),
        ("unattached_volume", volumes),
        ("unassociated_ip", addresses),
    ] {
        expected.entry(rule).or_default().extend(ids);
    }
    Ok(())
}

fn costbot_config(url: &str, idle_rules: bool) -> Result<Config> {
    let regions = REGIONS.map(|r| format!("\"{r}\"")).join(", ");
    // Only the rules Custodian's four policies match, plus (with `idle_rules`) the activity
    // rules; the others (snapshots, gp2, load balancers, previous generations) have no
    // counterpart in the policies and would add their own describes. The instances' load
    // balancer memberships are read whatever the rules (two requests a region), since an
    // instance behind a load balancer must never be terminated.
    let others =
        "\"old_snapshot\", \"orphaned_db_snapshot\", \"gp2_volume\", \"idle_load_balancer\", \"previous_generation\"";
    let idle = "\"idle_instance\", \"underutilized_instance\", \"idle_database\", \"idle_nat_gateway\"";
    let disabled =
        if idle_rules { format!("disabled = [{others}]\n") } else { format!("disabled = [{others}, {idle}]\n") };
    let toml = format!(
        "[aws]\nendpoint_url = \"{url}\"\n[waste]\nregions = [{regions}]\n\
         [waste.rules]\nstopped_instance_days = 0\nunattached_volume_days = 0\n{disabled}\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n"
    );
    Config::from_toml(&toml)
}

/// One costbot discovery run: wall time and findings by rule.
async fn costbot(url: &str, idle_rules: bool) -> Result<(Duration, Expected)> {
    let config = costbot_config(url, idle_rules)?;
    let store: DynStore = Arc::new(SqliteStore::in_memory().await?);
    let inventory = Arc::new(AwsInventory::from_config(&config).await?);
    let job = Discovery::from_config(&config, store, inventory)?;
    let started = Instant::now();
    let report = job.run(chrono::Utc::now().naive_utc()).await?;
    let took = started.elapsed();
    if !report.failures.is_empty() {
        bail!("costbot discovery failed: {:?}", report.failures);
    }
    let mut found = Expected::new();
    for f in report.findings {
        let rule: &'static str = match f.rule.as_str() {
            "stopped_instance" => "stopped_instance",
            "expired_ttl" => "expired_ttl",
            "unattached_volume" => "unattached_volume",
            "unassociated_ip" => "unassociated_ip",
            _ => "other",
        };
        found.entry(rule).or_default().insert(f.resource.reference.id);
    }
    Ok((took, found))
}

/// Custodian's resources.json files as findings by policy.
fn custodian_findings(out: &Path) -> Result<Expected> {
    let mut found = Expected::new();
    for region in REGIONS {
        for (policy, key) in [
            ("stopped_instance", "InstanceId"),
            ("expired_ttl", "InstanceId"),
            ("unattached_volume", "VolumeId"),
            ("unassociated_ip", "AllocationId"),
        ] {
            let file = out.join(region).join(policy).join("resources.json");
            let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
            let resources: Vec<serde_json::Value> = serde_json::from_str(&text)?;
            let ids = resources.iter().filter_map(|r| r[key].as_str()).map(str::to_string);
            found.entry(policy).or_default().extend(ids);
        }
    }
    Ok(found)
}

async fn custodian(program: &str, url: &str, dir: &Path) -> Result<(Duration, Expected)> {
    let policy = dir.join("policy.yml");
    std::fs::write(&policy, POLICY)?;
    let out = dir.join("custodian-out");
    let mut command = tokio::process::Command::new(program);
    command.args(["run", "--dryrun", "--cache-period", "0", "-s"]).arg(&out);
    for region in REGIONS {
        command.args(["-r", region]);
    }
    command.arg(&policy).env("AWS_ENDPOINT_URL", url).env("AWS_DEFAULT_REGION", "us-east-1");
    let started = Instant::now();
    let status = command.stdout(Stdio::null()).stderr(Stdio::null()).status().await?;
    let took = started.elapsed();
    if !status.success() {
        bail!("custodian exited with {status}");
    }
    Ok((took, custodian_findings(&out)?))
}

fn total(found: &Expected) -> usize {
    found.iter().filter(|(rule, _)| **rule != "other").map(|(_, ids)| ids.len()).sum()
}

fn row(tool: &str, took: Duration, requests: usize, found: &Expected, expected: &Expected) {
    let same = found.iter().filter(|(r, _)| **r != "other").eq(expected.iter());
    println!(
        "| {tool:<32} | {:>8.2} s | {requests:>8} | {:>8} | {:<4} |",
        took.as_secs_f64(),
        total(found),
        if same { "yes" } else { "NO" }
    );
    if !same {
        for (rule, want) in expected {
            let got = found.get(rule).cloned().unwrap_or_default();
            println!(
                "    {rule}: {} found, {} expected, {} missing",
                got.len(),
                want.len(),
                want.difference(&got).count()
            );
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    for (key, value) in [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")] {
        std::env::set_var(key, value);
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size { stopped: 100, expired: 100, fine: 200, volumes: 200, addresses: 100 }
    } else {
        Size { stopped: 2, expired: 2, fine: 4, volumes: 3, addresses: 2 }
    };
    let dir = tempfile::tempdir()?;
    let moto = Moto::start(dir.path())?;
    wait_for(&moto.url).await?;
    let mut expected = Expected::new();
    for region in REGIONS {
        seed_region(&moto.url, region, &size, &mut expected).await?;
    }
    println!(
        "moto inventory: {} regions, {} instances, {} unattached volumes, {} idle addresses; {} expected findings",
        REGIONS.len(),
        3 * (size.stopped + size.expired + size.fine),
        3 * size.volumes,
        3 * size.addresses,
        total(&expected)
    );
    println!("| tool                             |      wall | requests | findings | same |");
    println!("|----------------------------------|-----------|----------|----------|------|");
    let mut failed = false;
    for (label, idle) in [("costbot, idle rules on", true), ("costbot, idle rules off", false)] {
        let before = moto.requests()?;
        let (took, found) = costbot(&moto.url, idle).await?;
        row(label, took, moto.requests()? - before, &found, &expected);
        failed |= !found.iter().filter(|(r, _)| **r != "other").eq(expected.iter());
    }
    let program = std::env::var("COSTBOT_CUSTODIAN").ok().or_else(|| full.then(|| "custodian".to_string()));
    match program {
        Some(program) => {
            let before = moto.requests()?;
            match custodian(&program, &moto.url, dir.path()).await {
                Ok((took, found)) => {
                    row("Cloud Custodian 4 policies", took, moto.requests()? - before, &found, &expected)
                }
                Err(error) => println!("Cloud Custodian ({program}) did not run: {error:#}"),
            }
        }
        None => println!("Cloud Custodian skipped in the smoke pass (set COSTBOT_CUSTODIAN to run it)"),
    }
    // Which calls costbot made, through the counting proxy (not timed: the proxy adds latency).
    let proxy = waste_proxy::CountingProxy::start(&moto.url).await;
    proxy.clear();
    costbot(&proxy.url, true).await?;
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for call in proxy.calls() {
        *calls.entry(call).or_default() += 1;
    }
    println!("costbot's calls with the idle rules on ({} to CloudWatch): {calls:?}", proxy.count("monitoring"));
    if failed {
        bail!("costbot's findings differ from the seeded waste");
    }
    Ok(())
}
