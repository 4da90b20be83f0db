//! The doctor's pure parts: rendering and the migrations verdict.

use super::*;

fn sample() -> Vec<CheckResult> {
    vec![
        CheckResult::ok("config", "valid (costbot.toml)"),
        CheckResult::ok("database", "postgres at db.internal/costbot reachable"),
        migrations(&MigrationStatus {
            embedded: 9,
            applied: 8,
            pending: vec![(9, "digests".into())],
            failed: vec![],
            unknown: vec![],
        }),
        CheckResult::new(
            "waste actions 123456789012",
            Status::Warn,
            "denied in us-east-1: ec2:StopInstances (UnauthorizedOperation: no)",
            None,
        )
        .with_hint("grant them"),
        CheckResult::skip("discord", "not configured (no discord.bot_token)"),
    ]
}

#[test]
fn one_line_per_check_with_the_hint_after_a_dash() {
    insta::assert_snapshot!(render(&sample()));
}

#[test]
fn any_failure_fails_the_run() {
    let results = sample();
    assert!(has_failures(&results));
    let passing: Vec<CheckResult> = results.into_iter().filter(|r| r.status != Status::Fail).collect();
    assert!(!has_failures(&passing));
}

#[test]
fn migrations_are_judged_failed_first_then_pending_then_unknown() {
    let embedded = [(1, "a".to_string()), (2, "b".to_string())];
    let status = |recorded: &[(i64, bool)]| migrations(&MigrationStatus::compare(&embedded, recorded));
    assert_eq!(status(&[(1, true), (2, true)]).status, Status::Ok);
    let pending = status(&[(1, true)]);
    assert_eq!((pending.status, pending.detail.as_str()), (Status::Fail, "1 of 2 not applied: 0002 b"));
    assert_eq!(status(&[(1, true), (2, false)]).detail, "migration 0002 failed part-way");
    let newer = status(&[(1, true), (2, true), (3, true)]);
    assert_eq!(
        (newer.status, newer.detail.as_str()),
        (Status::Warn, "all 2 applied, plus 1 this binary does not know (0003)")
    );
    assert_eq!(status(&[]).detail, "2 of 2 not applied: 0001 a, 0002 b");
}

#[test]
fn a_feature_line_names_denials_failures_and_unconfirmed_permissions() {
    let probe = |permission, verdict| Probe { permission, verdict };
    let account = crate::domain::AccountId::parse("123456789012").unwrap();
    let allowed = probe("ec2:StopInstances", Verdict::Allowed);
    let unconfirmed = probe("ec2:DeleteVolume", Verdict::NotRefused("InvalidVolume.NotFound: no".into()));
    let line =
        waste_line(WasteProbe::Actions, &account, "eu-west-1", &[allowed.clone(), unconfirmed.clone()], Status::Fail);
    assert_eq!(line.status, Status::Ok);
    assert!(line.detail.ends_with("in eu-west-1; not refused but unconfirmed: ec2:DeleteVolume"), "{}", line.detail);

    let denied = probe("ec2:ReleaseAddress", Verdict::Denied("UnauthorizedOperation: no".into()));
    let line = waste_line(WasteProbe::Actions, &account, "eu-west-1", &[allowed.clone(), denied], Status::Warn);
    assert_eq!(
        (line.status, line.detail.as_str()),
        (Status::Warn, "denied in eu-west-1: ec2:ReleaseAddress (UnauthorizedOperation: no)")
    );
    assert!(line.hint.unwrap().contains("EnableWasteActions"));

    let failed = probe("rds:DescribeDBInstances", Verdict::Failed("timed out".into()));
    let line = waste_line(WasteProbe::Reads, &account, "eu-west-1", &[allowed, failed], Status::Fail);
    assert_eq!(
        (line.status, line.detail.as_str()),
        (Status::Fail, "rds:DescribeDBInstances failed in eu-west-1: timed out")
    );
}
