//! `costbot waste scan` as a user runs it: the binary, a waste-only configuration (no Cost
//! Explorer account), moto as AWS. Findings are printed, nothing is stored, and the exit code
//! says what was found.

use aws_config::Region;
use aws_sdk_ec2::types::DomainType;

use crate::support::Moto;

async fn scan(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["--config", dir.join("costbot.toml").to_str().unwrap(), "waste", "scan"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("COSTBOT_LOG", "error")
        .current_dir(dir)
        .output()
        .await
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (output.status.code(), text(output.stdout), text(output.stderr))
}

#[tokio::test]
async fn a_waste_only_configuration_scans_moto_and_exits_with_what_it_found() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[aws]\nendpoint_url = \"{}\"\nretry_mode = \"standard\"\nmax_attempts = 2\n\
         [waste]\nregions = [\"us-east-1\", \"eu-west-1\"]\n\
         [[accounts]]\nid = \"123456789012\"\n",
        moto.url
    );
    std::fs::write(dir.path().join("costbot.toml"), toml).unwrap();

    let (code, out, err) = scan(dir.path(), &[]).await;
    assert_eq!(code, Some(0), "nothing to propose in an empty account: {out}{err}");
    assert!(out.contains("0 findings") && out.contains("2 targets scanned, 0 failed"), "{out}");

    let sdk = costbot::aws::base_config(&costbot::config::Config::from_toml("").unwrap().aws).await;
    let sdk = sdk.to_builder().endpoint_url(&moto.url).region(Region::new("eu-west-1")).build();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let ip = ec2.allocate_address().domain(DomainType::Vpc).send().await.unwrap().allocation_id.unwrap();

    let (code, out, _) = scan(dir.path(), &["--format", "json"]).await;
    assert_eq!(code, Some(3), "a finding to propose: {out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found = &json["findings"][0];
    assert_eq!((found["rule"].as_str(), found["id"].as_str()), (Some("unassociated_ip"), Some(ip.as_str())));
    assert_eq!((found["region"].as_str(), found["monthly_saving"].as_str()), (Some("eu-west-1"), Some("3.65")));

    let (code, out, _) = scan(dir.path(), &["--region", "us-east-1", "--format", "csv"]).await;
    assert_eq!((code, out.lines().count()), (Some(0), 1), "only the header: the address is in eu-west-1: {out}");
    let (code, _, err) = scan(dir.path(), &["--rule", "idle_cat"]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown rule `idle_cat`"), "{err}");
    let (code, _, err) = scan(dir.path(), &["--format", "yaml"]).await;
    assert_eq!(code, Some(2), "clap refuses bad arguments: {err}");
    assert!(!dir.path().join("costbot.sqlite").exists(), "a scan stores nothing");
}
