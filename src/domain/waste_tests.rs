//! Unit tests for the waste rules and the safety policy.

use std::collections::BTreeMap;

use super::*;
use crate::domain::resource::{Activity, ResourceRef};
use crate::domain::AccountId;

pub(super) fn now() -> NaiveDateTime {
    "2026-11-25T12:00:00".parse().unwrap()
}

fn days_ago(days: i64) -> NaiveDateTime {
    now() - Duration::days(days)
}

pub(super) fn resource(kind: ResourceKind, id: &str, state: &str) -> Resource {
    Resource {
        reference: ResourceRef {
            account: AccountId::parse("123456789012").unwrap(),
            region: "us-east-1".into(),
            kind,
            id: id.into(),
        },
        state: state.into(),
        tags: BTreeMap::new(),
        created_at: Some(days_ago(100)),
        state_since: None,
        size_class: None,
        storage_gib: None,
        monthly_cost: Some(Money::from_cents(7_008)),
        dependencies: Vec::new(),
        activity: None,
    }
}

fn tagged(mut r: Resource, key: &str, value: &str) -> Resource {
    r.tags.insert(key.into(), value.into());
    r
}

fn stopped(days: i64) -> Resource {
    Resource { state_since: Some(days_ago(days)), ..resource(ResourceKind::Ec2Instance, "i-1", "stopped") }
}

fn idle_activity(cpu: Option<f64>, bytes: Option<u64>, connections: Option<f64>) -> Option<Activity> {
    Some(Activity {
        days: 14,
        max_cpu_percent: cpu,
        network_bytes: bytes,
        max_db_connections: connections,
        ..Activity::default()
    })
}

fn run(resources: &[Resource]) -> Vec<WasteFinding> {
    findings(resources, &RulesConfig::default(), &PolicyConfig::default(), now())
}

fn only(resources: &[Resource]) -> WasteFinding {
    let found = run(resources);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.into_iter().next().unwrap()
}

#[test]
fn a_long_stopped_instance_is_proposed_for_termination_with_its_storage_as_saving() {
    let f = only(&[stopped(40)]);
    assert_eq!(
        (f.rule.as_str(), f.action, f.path.clone()),
        ("stopped_instance", Action::TerminateInstance, SafetyPath::Normal)
    );
    assert_eq!(f.monthly_saving, Some(Money::from_cents(7_008)));
    assert!(
        f.evidence.contains("stopped since 2026-10-16 12:00 UTC (40 days, over the 14-day limit)"),
        "{}",
        f.evidence
    );
    assert!(run(&[stopped(10)]).is_empty(), "10 days is under the limit");
    let unknown_since = Resource { state_since: None, ..stopped(40) };
    assert!(run(&[unknown_since]).is_empty(), "no state time, no proof");
}

#[test]
fn expiry_tags_parse_as_rfc3339_or_dates_and_garbage_is_ignored() {
    assert_eq!(parse_expiry("2026-11-01T10:00:00Z"), Some("2026-11-01T10:00:00".parse().unwrap()));
    assert_eq!(parse_expiry("2026-11-01T10:00:00+02:00"), Some("2026-11-01T08:00:00".parse().unwrap()));
    assert_eq!(parse_expiry(" 2026-11-01 "), Some("2026-11-02T00:00:00".parse().unwrap()), "a date lasts to its end");
    for garbage in ["", "soon", "2026-13-45", "1700000000", "2026-11-01T25:00:00Z"] {
        assert_eq!(parse_expiry(garbage), None, "{garbage}");
    }
}

#[test]
fn an_expired_ttl_stops_running_terminates_stopped_and_stops_databases() {
    let running = tagged(resource(ResourceKind::Ec2Instance, "i-1", "running"), "Expires-At", "2026-11-01");
    let f = only(&[running]);
    assert_eq!((f.rule.as_str(), f.action), ("expired_ttl", Action::StopInstance));
    assert_eq!(f.evidence, "tag expires-at=2026-11-01 says it expired 23 days ago");
    let old_stopped = tagged(stopped(3), "ttl", "2026-11-20T00:00:00Z");
    assert_eq!(only(&[old_stopped]).action, Action::TerminateInstance);
    let db = tagged(resource(ResourceKind::RdsInstance, "db-1", "available"), "expiry", "2026-01-01");
    assert_eq!(only(&[db]).action, Action::StopDatabase);
    let future = tagged(resource(ResourceKind::Ec2Instance, "i-2", "running"), "ttl", "2027-01-01");
    let garbage = tagged(resource(ResourceKind::Ec2Instance, "i-3", "running"), "ttl", "next tuesday");
    let today = tagged(resource(ResourceKind::Ec2Instance, "i-4", "running"), "ttl", "2026-11-25");
    assert!(run(&[future, garbage, today]).is_empty());
}

#[test]
fn two_rules_with_the_same_action_give_one_finding() {
    let both = tagged(stopped(40), "ttl", "2026-01-01");
    let f = only(&[both]);
    assert_eq!(f.rule, "expired_ttl", "the first rule in RULES wins");
}

#[test]
fn an_old_unattached_volume_is_deleted_and_a_fresh_one_is_not() {
    let volume = |days| Resource {
        size_class: Some("gp3".into()),
        storage_gib: Some(100),
        state_since: Some(days_ago(days)),
        monthly_cost: Some(Money::from_cents(800)),
        ..resource(ResourceKind::EbsVolume, "vol-1", "available")
    };
    let f = only(&[volume(20)]);
    assert_eq!(
        (f.rule.as_str(), f.action, f.monthly_saving),
        ("unattached_volume", Action::DeleteVolume, Some(Money::from_cents(800)))
    );
    assert!(f.evidence.starts_with("100 GiB gp3 volume unattached since"), "{}", f.evidence);
    assert!(run(&[volume(3)]).is_empty());
    let by_creation = Resource { state_since: None, ..volume(0) };
    assert!(only(&[by_creation]).evidence.contains("unattached now, created"), "says the date is the creation date");
    let attached = resource(ResourceKind::EbsVolume, "vol-2", "in-use");
    assert!(run(&[attached]).is_empty());
}

#[test]
fn an_unassociated_address_is_released() {
    let f = only(&[
        resource(ResourceKind::ElasticIp, "eipalloc-1", "unassociated"),
        resource(ResourceKind::ElasticIp, "eipalloc-2", "associated"),
    ]);
    assert_eq!(
        (f.rule.as_str(), f.action, f.resource.reference.id.as_str()),
        ("unassociated_ip", Action::ReleaseAddress, "eipalloc-1")
    );
}

#[test]
fn an_idle_instance_needs_low_cpu_and_low_network_measured_over_the_whole_window() {
    let instance = |activity| Resource { activity, ..resource(ResourceKind::Ec2Instance, "i-1", "running") };
    let f = only(&[instance(idle_activity(Some(1.2), Some(1024 * 1024), None))]);
    assert_eq!((f.rule.as_str(), f.action), ("idle_instance", Action::StopInstance));
    assert!(f.evidence.contains("1.2%") && f.evidence.contains("1.00 MiB"), "{}", f.evidence);
    // Missing data is never evidence of idleness.
    assert!(run(&[instance(None)]).is_empty());
    assert!(run(&[instance(idle_activity(None, Some(0), None))]).is_empty());
    assert!(run(&[instance(idle_activity(Some(0.0), None, None))]).is_empty());
    // Busy on either measure.
    assert!(run(&[instance(idle_activity(Some(40.0), Some(0), None))]).is_empty());
    assert!(run(&[instance(idle_activity(Some(1.0), Some(6 * 1024 * 1024), None))]).is_empty());
    // Launched inside the window: the metrics do not cover it.
    let young = Resource { created_at: Some(days_ago(5)), ..instance(idle_activity(Some(0.0), Some(0), None)) };
    assert!(run(&[young]).is_empty());
}

#[test]
fn an_idle_database_has_had_no_connections() {
    let db = |connections| Resource {
        activity: idle_activity(None, None, connections),
        ..resource(ResourceKind::RdsInstance, "db-1", "available")
    };
    let f = only(&[db(Some(0.0))]);
    assert_eq!((f.rule.as_str(), f.action), ("idle_database", Action::StopDatabase));
    assert!(run(&[db(Some(1.0)), db(None)]).is_empty());
}

#[test]
fn disabled_rules_do_not_run() {
    let rules = RulesConfig { disabled: vec!["stopped_instance".into()], ..RulesConfig::default() };
    assert!(findings(&[stopped(40)], &rules, &PolicyConfig::default(), now()).is_empty());
    assert!(RulesConfig { disabled: vec!["nope".into()], ..RulesConfig::default() }.validate().is_err());
    assert!(RulesConfig::default().validate().is_ok());
}

#[test]
fn protected_tags_exclude_whatever_the_case_and_any_value_matches_a_star() {
    let prod = tagged(stopped(40), "environment", "PRODUCTION");
    let f = only(&[prod]);
    assert_eq!(
        f.path,
        SafetyPath::Excluded {
            reason: "it carries the protected tag Environment=PRODUCTION, so costbot never touches it".into()
        }
    );
    let star = tagged(stopped(40), "costbot:protect", "ask alice");
    assert!(matches!(only(&[star]).path, SafetyPath::Excluded { .. }));
    let staging = tagged(stopped(40), "Environment", "staging");
    assert_eq!(only(&[staging]).path, SafetyPath::Normal);
    assert!(PolicyConfig { protected_tags: vec!["Environment".into()], ..PolicyConfig::default() }.validate().is_err());
}

#[test]
fn dependencies_exclude_destructive_actions_and_make_stops_strict() {
    let in_asg = Resource { dependencies: vec!["in Auto Scaling group web".into()], ..stopped(40) };
    let f = only(std::slice::from_ref(&in_asg));
    assert_eq!(
        f.path,
        SafetyPath::Excluded {
            reason: "other things depend on it (in Auto Scaling group web), so costbot will not terminate it".into()
        }
    );
    let path = safety_path(&in_asg, Action::StopInstance, &PolicyConfig::default(), now());
    assert_eq!(path, SafetyPath::Strict { reason: "other things depend on it (in Auto Scaling group web)".into() });
}

#[test]
fn recent_activity_and_high_cost_make_a_finding_strict() {
    let recent = Resource {
        created_at: Some(days_ago(2)),
        ..tagged(resource(ResourceKind::Ec2Instance, "i-1", "running"), "ttl", "2026-11-24")
    };
    let SafetyPath::Strict { reason } = only(&[recent]).path else { panic!("recently launched must be strict") };
    assert_eq!(reason, "it was launched recently (2026-11-23 12:00 UTC)");
    let changed = Resource {
        state_since: Some(days_ago(1)),
        ..tagged(resource(ResourceKind::Ec2Instance, "i-1", "stopped"), "ttl", "2026-11-01")
    };
    assert!(
        matches!(only(&[changed]).path, SafetyPath::Strict { reason } if reason.contains("state changed recently"))
    );
    let pricey = Resource { monthly_cost: Some(Money::from_cents(100_001)), ..stopped(40) };
    let SafetyPath::Strict { reason } = only(&[pricey]).path else { panic!("above $1,000 must be strict") };
    assert_eq!(reason, "it costs about $1,000.01 a month, above the $1,000.00 limit for one approver");
    let at_limit = Resource { monthly_cost: Some(Money::from_cents(100_000)), ..stopped(40) };
    assert_eq!(only(&[at_limit]).path, SafetyPath::Normal);
}

#[test]
fn an_unknown_price_gives_an_unknown_saving_and_is_not_strict() {
    let unknown = Resource { monthly_cost: None, ..stopped(40) };
    let f = only(&[unknown]);
    assert_eq!((f.monthly_saving, f.path), (None, SafetyPath::Normal));
}

#[test]
fn configs_deserialize_and_refuse_unknown_keys() {
    let policy: PolicyConfig =
        toml::from_str("protected_tags = [\"Team=Core\"]\nstrict_above_monthly = \"250.50\"").unwrap();
    assert_eq!(policy.strict_above_monthly.0, Money::from_cents(25_050));
    assert_eq!(policy.recent_days, 7);
    assert!(toml::from_str::<PolicyConfig>("protect = []").is_err());
    let rules: RulesConfig = toml::from_str("stopped_instance_days = 30\nttl_tags = [\"delete-after\"]").unwrap();
    assert_eq!((rules.stopped_instance_days, rules.unattached_volume_days), (30, 7));
    assert!(toml::from_str::<RulesConfig>("idle_days = 3").is_err(), "idle_days lives in [waste]");
}

#[test]
fn activity_is_wanted_only_where_an_enabled_activity_rule_could_decide() {
    let rules = RulesConfig::default();
    let running = resource(ResourceKind::Ec2Instance, "i-1", "running");
    let database = resource(ResourceKind::RdsInstance, "db-1", "available");
    assert!(needs_activity(&running, &rules, now()) && needs_activity(&database, &rules, now()));
    for (kind, state) in [
        (ResourceKind::Ec2Instance, "stopped"),
        (ResourceKind::RdsInstance, "stopped"),
        (ResourceKind::EbsVolume, "available"),
        (ResourceKind::ElasticIp, "unassociated"),
    ] {
        assert!(!needs_activity(&resource(kind, "x", state), &rules, now()), "{kind:?} {state}");
    }
    // An expired TTL already proposes the stop, so idle metrics could change nothing.
    let expired = tagged(running.clone(), "expires-at", "2026-11-01");
    assert!(!needs_activity(&expired, &rules, now()));
    let ttl_off = RulesConfig { disabled: vec!["expired_ttl".into()], ..RulesConfig::default() };
    assert!(needs_activity(&expired, &ttl_off, now()), "with the TTL rule off the idle rule decides");
    let idle_off = RulesConfig {
        disabled: ["idle_instance", "underutilized_instance", "idle_database"].map(String::from).to_vec(),
        ..RulesConfig::default()
    };
    assert!(!needs_activity(&running, &idle_off, now()) && !needs_activity(&database, &idle_off, now()));
}

fn snapshot(kind: ResourceKind, id: &str, days: i64, deps: &[&str]) -> Resource {
    let state = if kind == ResourceKind::EbsSnapshot { "completed" } else { "available" };
    Resource {
        created_at: Some(days_ago(days)),
        storage_gib: Some(100),
        monthly_cost: Some(Money::from_cents(500)),
        dependencies: deps.iter().map(|d| d.to_string()).collect(),
        ..resource(kind, id, state)
    }
}

#[test]
fn old_orphaned_snapshots_are_deleted_and_used_or_young_ones_are_not() {
    let f = only(&[snapshot(ResourceKind::EbsSnapshot, "snap-1", 120, &[])]);
    assert_eq!((f.rule.as_str(), f.action), ("old_snapshot", Action::DeleteSnapshot));
    assert_eq!(f.monthly_saving, Some(Money::from_cents(500)));
    assert!(
        f.evidence.contains("of a 100 GiB volume taken 2026-07-28 12:00 UTC (120 days ago, over the 90-day limit)"),
        "{}",
        f.evidence
    );
    assert!(run(&[snapshot(ResourceKind::EbsSnapshot, "snap-2", 30, &[])]).is_empty(), "younger than 90 days");
    for deps in [&["used by AMI ami-1"][..], &["taken from volume vol-1, which still exists"][..]] {
        assert!(run(&[snapshot(ResourceKind::EbsSnapshot, "snap-3", 120, deps)]).is_empty(), "{deps:?}");
    }
    let f = only(&[snapshot(ResourceKind::RdsSnapshot, "db-snap", 200, &[])]);
    assert_eq!((f.rule.as_str(), f.action), ("orphaned_db_snapshot", Action::DeleteDbSnapshot));
    let live = snapshot(ResourceKind::RdsSnapshot, "db-snap", 200, &["of DB instance orders, which still exists"]);
    assert!(run(&[live]).is_empty());
    let stricter = RulesConfig { snapshot_days: 200, ..RulesConfig::default() };
    let young = snapshot(ResourceKind::EbsSnapshot, "snap-1", 120, &[]);
    assert!(findings(&[young], &stricter, &PolicyConfig::default(), now()).is_empty(), "the threshold is configurable");
}

#[test]
fn a_nat_gateway_with_no_bytes_out_in_30_days_is_idle_and_unknown_is_not() {
    let nat = |bytes: Option<u64>, days: u32| Resource {
        activity: Some(Activity { days, network_bytes: bytes, ..Activity::default() }),
        monthly_cost: Some(Money::from_cents(3_285)),
        ..resource(ResourceKind::NatGateway, "nat-1", "available")
    };
    let f = only(&[nat(Some(0), 30)]);
    assert_eq!(
        (f.rule.as_str(), f.action, f.monthly_saving),
        ("idle_nat_gateway", Action::DeleteNatGateway, Some(Money::from_cents(3_285)))
    );
    assert!(f.evidence.contains("sent 0 bytes to destinations in the last 30 days"), "{}", f.evidence);
    assert!(run(&[nat(Some(1), 30)]).is_empty(), "one byte is use");
    assert!(run(&[nat(None, 30)]).is_empty(), "no datapoints is unknown");
    assert!(run(&[nat(Some(0), 14)]).is_empty(), "a shorter window than the rule's is no proof");
    assert!(needs_activity(&nat(None, 30), &RulesConfig::default(), now()));
    assert_eq!(activity_days(ResourceKind::NatGateway, &RulesConfig::default()), 30);
}

#[test]
fn gp2_volumes_up_to_1000_gib_change_to_gp3_for_a_fifth_less() {
    let volume = |gib: u32, class: &str, state: &str| Resource {
        size_class: Some(class.into()),
        storage_gib: Some(gib),
        monthly_cost: Some(Money::from_cents(gib as i64 * 10)),
        dependencies: vec!["attached to i-1".into()],
        ..resource(ResourceKind::EbsVolume, "vol-1", state)
    };
    let f = only(&[volume(500, "gp2", "in-use")]);
    assert_eq!((f.rule.as_str(), f.action), ("gp2_volume", Action::ModifyVolumeToGp3));
    assert_eq!(f.monthly_saving, Some(Money::from_cents(1_000)), "$50 a month now, a fifth saved");
    assert!(
        matches!(f.path, SafetyPath::Strict { .. }),
        "attached: strict, never excluded, since it is not destructive"
    );
    assert!(run(&[volume(1_001, "gp2", "in-use")]).is_empty(), "over 1,000 GiB gp3 would need paid IOPS");
    assert!(run(&[volume(500, "gp3", "in-use")]).is_empty());
    let loose = Resource { dependencies: Vec::new(), ..volume(500, "gp2", "available") };
    assert_eq!(only(&[loose]).rule, "unattached_volume", "one finding per resource: deleting beats converting");
}

#[test]
fn a_new_gp2_volume_waits_a_week() {
    let new = Resource {
        size_class: Some("gp2".into()),
        storage_gib: Some(8),
        created_at: Some(days_ago(2)),
        ..resource(ResourceKind::EbsVolume, "vol-1", "in-use")
    };
    assert!(run(std::slice::from_ref(&new)).is_empty());
    assert_eq!(only(&[Resource { created_at: Some(days_ago(8)), ..new }]).rule, "gp2_volume");
}

#[test]
fn an_off_hours_tag_wins_over_a_resize_and_loses_to_idleness() {
    let mut m4 = resource(ResourceKind::Ec2Instance, "i-1", "running");
    m4.size_class = Some("m4.large".into());
    assert_eq!(only(std::slice::from_ref(&m4)).rule, "previous_generation");
    let scheduled = tagged(m4, "costbot:offhours", "19:00-07:00 Mon-Fri Europe/Berlin");
    assert_eq!(only(std::slice::from_ref(&scheduled)).rule, "offhours", "the schedule someone tagged");
    let idle = Resource { activity: idle_activity(Some(0.5), Some(1_000), None), ..scheduled };
    assert_eq!(only(&[idle]).rule, "idle_instance", "stopping outright saves more");
}
