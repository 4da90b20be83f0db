//! `waste scan` over the simulated cloud at a fixed time: output snapshots in all three
//! formats, the filters, and the exit codes.

use super::*;

fn now() -> NaiveDateTime {
    "2026-11-25T12:00:00".parse().unwrap()
}

fn simulated() -> Config {
    Config::from_toml("[costs]\nsource = \"simulated\"\n[waste]\n").unwrap()
}

async fn run(options: ScanOptions) -> Result<ScanReport> {
    scan(&simulated(), &options, now()).await
}

#[tokio::test]
async fn the_simulated_cloud_scans_to_the_same_table_json_and_csv() {
    let report = run(ScanOptions::default()).await.unwrap();
    assert_eq!(report.targets_ok, 3, "three simulated accounts, one region");
    assert_eq!(report.exit_code(), EXIT_FINDINGS);
    insta::assert_snapshot!("scan_table", render_table(&report));
    insta::assert_snapshot!("scan_json", render_json(&report));
    insta::assert_snapshot!("scan_csv", render_csv(&report).unwrap());
    let parsed: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert_eq!(parsed["findings"].as_array().unwrap().len(), report.findings.len());
}

#[tokio::test]
async fn filters_narrow_the_scan_and_bad_ones_are_named() {
    let only_volumes = ScanOptions { rules: vec!["unattached_volume".into()], ..ScanOptions::default() };
    let report = run(only_volumes).await.unwrap();
    assert!(!report.findings.is_empty() && report.findings.iter().all(|f| f.rule == "unattached_volume"));
    let one_account = ScanOptions { accounts: vec![sim_inventory::STAGING.into()], ..ScanOptions::default() };
    let report = run(one_account).await.unwrap();
    assert_eq!(report.targets_ok, 1);
    assert!(report.findings.iter().all(|f| f.resource.reference.account.as_str() == sim_inventory::STAGING));
    let nowhere = ScanOptions { regions: vec!["eu-west-1".into()], ..ScanOptions::default() };
    let report = run(nowhere).await.unwrap();
    assert_eq!((report.targets_ok, report.findings.len(), report.exit_code()), (3, 0, EXIT_CLEAN));
    assert!(render_table(&report).starts_with("0 findings"), "{}", render_table(&report));
    assert_eq!(render_csv(&report).unwrap().lines().count(), 1, "a header row even without findings");

    let bad_rule = ScanOptions { rules: vec!["idle_cat".into()], ..ScanOptions::default() };
    assert!(run(bad_rule).await.unwrap_err().to_string().contains("unknown rule `idle_cat`"));
    let bad_account = ScanOptions { accounts: vec!["999999999999".into()], ..ScanOptions::default() };
    assert!(run(bad_account).await.unwrap_err().to_string().contains("999999999999"));
}

#[test]
fn a_failed_target_wins_the_exit_code_and_is_printed() {
    let report = ScanReport {
        targets_ok: 1,
        failures: vec![TargetFailure {
            account: AccountId::parse("123456789012").unwrap(),
            region: "eu-west-1".into(),
            error: "discovering EC2 instances: ec2:DescribeInstances failed".into(),
        }],
        findings: Vec::new(),
    };
    assert_eq!(report.exit_code(), EXIT_PARTIAL);
    insta::assert_snapshot!("scan_failure_table", render_table(&report));
    assert!(render_json(&report).contains("\"region\": \"eu-west-1\""));
}
