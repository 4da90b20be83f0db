//! The sizing rules (underutilized instances, previous-generation families) and the idle load
//! balancer rule, with the instance-type arithmetic they need. Pure, like the rest of
//! `domain::waste`.
//!
//! Both sizing rules propose a type change (stop, modify, start), which means downtime, so
//! the safety policy always asks two approvers for them (see `Action::downtime`). A type
//! change is only proposed when both types are in the price table, so every such finding
//! states the monthly price difference.

use chrono::NaiveDateTime;

use super::{days_between, when, Hit, RulesConfig};
use crate::domain::prices::PriceTable;
use crate::domain::resource::{Action, Resource, ResourceKind};
use crate::domain::Money;

/// Previous-generation instance families and the current-generation family of the same
/// kind that replaces each, as `(family, successor)`.
///
/// Source: the Amazon EC2 documentation's list of previous generation instance types
/// (<https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-previous-generation-instances.html>,
/// which lists A1, C1, C3, C4, G2, G3, I2, M1, M2, M3, M4, R3, R4 and T1) for all but `t2`.
/// AWS still lists T2 as current generation, but T3 is its successor (the same sizes, a
/// newer processor) and costs about 10 % less on demand, so `t2` is included; remove it
/// with `[waste.rules] previous_generation_families`. Moving to a Nitro family (m5, c5, r5,
/// t3) needs an AMI with the ENA and NVMe drivers, which the evidence says.
pub const PREVIOUS_GENERATION: &[(&str, &str)] = &[
    ("t1", "t3"),
    ("t2", "t3"),
    ("m1", "m5"),
    ("m2", "r5"),
    ("m3", "m5"),
    ("m4", "m5"),
    ("c1", "c5"),
    ("c3", "c5"),
    ("c4", "c5"),
    ("r3", "r5"),
    ("r4", "r5"),
    ("i2", "i3"),
    ("g2", "g4dn"),
    ("g3", "g4dn"),
];

/// Instance sizes from smallest to largest, as EC2 names them.
const SIZES: &[&str] = &[
    "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "3xlarge", "4xlarge", "6xlarge", "8xlarge",
    "9xlarge", "10xlarge", "12xlarge", "16xlarge", "18xlarge", "24xlarge", "32xlarge", "48xlarge",
];

/// The family a previous-generation family is replaced by, if it is in [`PREVIOUS_GENERATION`].
pub(super) fn successor(family: &str) -> Option<&'static str> {
    PREVIOUS_GENERATION.iter().find(|(f, _)| f.eq_ignore_ascii_case(family)).map(|(_, s)| *s)
}

fn split(instance_type: &str) -> Option<(&str, &str)> {
    instance_type.split_once('.')
}

/// The next smaller size of the same family that the price table knows (`m5.2xlarge` →
/// `m5.xlarge`, `t3.medium` → `t3.small`; `m5.large` → none, since m5 has no medium). Only
/// priced types count, so the saving of a resize is always known.
pub fn one_size_down(instance_type: &str, prices: &PriceTable) -> Option<String> {
    let (family, size) = split(instance_type)?;
    let at = SIZES.iter().position(|s| s.eq_ignore_ascii_case(size))?;
    SIZES[..at].iter().rev().map(|s| format!("{family}.{s}")).find(|t| prices.ec2_hourly(t).is_some())
}

/// The same size in the current generation (`m4.xlarge` → `m5.xlarge`), when the family is
/// one of `families` (the configured previous-generation families) and has a successor.
pub fn current_generation(instance_type: &str, families: &[String]) -> Option<String> {
    let (family, size) = split(instance_type)?;
    if !families.iter().any(|f| f.trim().eq_ignore_ascii_case(family)) {
        return None;
    }
    Some(format!("{}.{size}", successor(family)?))
}

/// The monthly price difference of moving from one type to another, when both are priced
/// and the target costs less.
fn cheaper(prices: &PriceTable, from: &str, to: &str) -> Option<(Money, Money, Money)> {
    let (now, then) = (prices.ec2_monthly(from)?, prices.ec2_monthly(to)?);
    (then < now).then_some((now, then, now - then))
}

/// Trusted Advisor's "Low Utilization Amazon EC2 Instances": on at least
/// `underutilized_min_days` of the window's days, CPU averaged at most
/// `underutilized_cpu_percent` and network in plus out was at most `underutilized_network_mb`.
/// Days without both numbers are not counted (missing data is not evidence).
pub(super) fn underutilized_instance(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if r.reference.kind != ResourceKind::Ec2Instance || r.state != "running" || !super::covers_window(r, rules, now) {
        return None;
    }
    let activity = r.activity.as_ref().filter(|a| a.days >= rules.idle_days)?;
    let limit = rules.underutilized_network_mb.saturating_mul(1_000_000);
    let low = activity
        .daily
        .iter()
        .filter(|d| {
            d.cpu_percent.is_some_and(|c| c <= rules.underutilized_cpu_percent)
                && d.network_bytes.is_some_and(|b| b <= limit)
        })
        .count();
    if low < rules.underutilized_min_days as usize {
        return None;
    }
    let from = r.size_class.as_deref()?;
    let to = one_size_down(from, &rules.prices)?;
    let (now_cost, then_cost, saving) = cheaper(&rules.prices, from, &to)?;
    let evidence = format!(
        "on {low} of the last {} days its CPU averaged at most {}% and its network in+out was at most {} MB (low-utilization limit: {} days); one size down, {to} costs {then_cost} a month instead of {now_cost} for {from}",
        activity.days, rules.underutilized_cpu_percent, rules.underutilized_network_mb, rules.underutilized_min_days
    );
    Some((Action::ResizeInstance, evidence, Some(saving)))
}

/// A running instance of a configured previous-generation family whose current-generation
/// equivalent is priced and cheaper.
pub(super) fn previous_generation(r: &Resource, rules: &RulesConfig) -> Option<Hit> {
    if r.reference.kind != ResourceKind::Ec2Instance || r.state != "running" {
        return None;
    }
    let from = r.size_class.as_deref()?;
    let to = current_generation(from, &rules.previous_generation_families)?;
    let (now_cost, then_cost, saving) = cheaper(&rules.prices, from, &to)?;
    let evidence = format!(
        "{from} is a previous-generation type; the current generation's {to} costs {then_cost} a month instead of {now_cost} (its AMI needs the ENA and NVMe drivers)"
    );
    Some((Action::ModernizeInstance, evidence, Some(saving)))
}

/// Trusted Advisor's "Idle Load Balancers": no healthy target, or fewer than
/// `load_balancer_min_daily_requests` requests on every day of the last
/// `load_balancer_idle_days`. Elastic Load Balancing sends request datapoints only for
/// periods with requests, so a day without a datapoint counts as zero, but only when the
/// metrics were read at all (`activity` present) and the load balancer is older than the
/// window.
pub(super) fn idle_load_balancer(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if !matches!(r.reference.kind, ResourceKind::LoadBalancer | ResourceKind::ClassicLoadBalancer)
        || r.state != "active"
    {
        return None;
    }
    let activity = r.activity.as_ref()?;
    let kind = r.size_class.as_deref().unwrap_or("classic");
    if activity.healthy_targets == Some(0) {
        let evidence = format!(
            "{kind} load balancer with no healthy target: nothing behind it can answer, yet it is billed every hour"
        );
        return Some((Action::DeleteLoadBalancer, evidence, r.monthly_cost));
    }
    let days = rules.load_balancer_idle_days;
    if activity.days < days || r.created_at.is_none_or(|t| days_between(t, now) < i64::from(days)) {
        return None;
    }
    let busiest = activity.daily.iter().filter_map(|d| d.requests).max().unwrap_or(0);
    if busiest >= rules.load_balancer_min_daily_requests {
        return None;
    }
    let what = if kind == "network" { "new flows (NewFlowCount)" } else { "requests (RequestCount)" };
    let created = r.created_at.map(when).unwrap_or_default();
    let evidence = format!(
        "{kind} load balancer (created {created}) with at most {busiest} {what} on any of the last {} days (limit: fewer than {} a day; a day without datapoints counts as 0)",
        activity.days, rules.load_balancer_min_daily_requests
    );
    Some((Action::DeleteLoadBalancer, evidence, r.monthly_cost))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resource::{Activity, DayActivity, SafetyPath, WasteFinding};
    use crate::domain::waste::{findings, needs_activity, PolicyConfig};
    use chrono::Duration;

    use crate::domain::waste::tests::now;

    fn resource(kind: ResourceKind, id: &str, state: &str, class: &str) -> Resource {
        Resource {
            size_class: Some(class.into()),
            monthly_cost: PriceTable::bundled().ec2_monthly(class),
            ..crate::domain::waste::tests::resource(kind, id, state)
        }
    }

    /// Fourteen days of activity, the first `low` of them at 2 % CPU and 1 MB, the rest busy.
    fn days(low: usize) -> Option<Activity> {
        let daily = (0..14)
            .map(|i| DayActivity {
                day: (now() - Duration::days(14 - i as i64)).date(),
                cpu_percent: Some(if i < low { 2.0 } else { 60.0 }),
                network_bytes: Some(if i < low { 1_000_000 } else { 900_000_000 }),
                requests: None,
            })
            .collect();
        Some(Activity {
            days: 14,
            max_cpu_percent: Some(60.0),
            network_bytes: Some(1 << 40),
            daily,
            ..Activity::default()
        })
    }

    fn run(resources: &[Resource]) -> Vec<WasteFinding> {
        findings(resources, &RulesConfig::default(), &PolicyConfig::default(), now())
    }

    #[test]
    fn four_low_days_of_fourteen_make_an_instance_underutilized_with_a_priced_resize_for_two_approvers() {
        let r = Resource { activity: days(4), ..resource(ResourceKind::Ec2Instance, "i-1", "running", "m5.2xlarge") };
        let found = run(std::slice::from_ref(&r));
        let f = &found[0];
        assert_eq!((f.rule.as_str(), f.action), ("underutilized_instance", Action::ResizeInstance));
        // m5.2xlarge $280.32 a month, m5.xlarge $140.16.
        assert_eq!(f.monthly_saving, Money::parse("140.16").ok());
        assert!(f.evidence.contains("on 4 of the last 14 days") && f.evidence.contains("m5.xlarge"), "{}", f.evidence);
        assert!(matches!(&f.path, SafetyPath::Strict { reason } if reason.contains("downtime")), "{:?}", f.path);
        assert!(run(&[Resource { activity: days(3), ..r.clone() }]).is_empty(), "three low days are not enough");
        let strict = RulesConfig { underutilized_min_days: 10, ..RulesConfig::default() };
        assert!(
            findings(std::slice::from_ref(&r), &strict, &PolicyConfig::default(), now()).is_empty(),
            "configurable"
        );
        let smallest =
            Resource { activity: days(14), ..resource(ResourceKind::Ec2Instance, "i-2", "running", "m5.large") };
        assert!(run(&[smallest]).is_empty(), "no smaller m5 is priced, so no recommendation");
        assert!(run(&[Resource { activity: None, ..r }]).is_empty(), "no data is no evidence");
    }

    #[test]
    fn a_previous_generation_instance_moves_to_its_successor_for_the_price_difference() {
        let f = &run(&[resource(ResourceKind::Ec2Instance, "i-1", "running", "m4.large")])[0];
        assert_eq!((f.rule.as_str(), f.action), ("previous_generation", Action::ModernizeInstance));
        // m4.large $73.00, m5.large $70.08 a month.
        assert_eq!(f.monthly_saving, Money::parse("2.92").ok());
        assert!(matches!(f.path, SafetyPath::Strict { .. }), "always two approvers: {:?}", f.path);
        let off = RulesConfig { previous_generation_families: vec!["c4".into()], ..RulesConfig::default() };
        let m4 = resource(ResourceKind::Ec2Instance, "i-1", "running", "m4.large");
        assert!(findings(&[m4], &off, &PolicyConfig::default(), now()).is_empty(), "m4 not configured");
        assert!(run(&[resource(ResourceKind::Ec2Instance, "i-1", "stopped", "m4.large")]).is_empty());
        let unknown = RulesConfig { previous_generation_families: vec!["z9".into()], ..RulesConfig::default() };
        assert!(unknown.validate().unwrap_err().contains("z9"));
    }

    #[test]
    fn a_load_balancer_is_idle_without_healthy_targets_or_with_few_requests_every_day() {
        let lb = |healthy: u32, days: u32, per_day: &[u64]| Resource {
            monthly_cost: Money::parse("16.425").ok(),
            activity: Some(Activity {
                days,
                healthy_targets: Some(healthy),
                daily: per_day
                    .iter()
                    .enumerate()
                    .map(|(i, n)| DayActivity {
                        day: (now() - Duration::days(i as i64 + 1)).date(),
                        cpu_percent: None,
                        network_bytes: None,
                        requests: Some(*n),
                    })
                    .collect(),
                ..Activity::default()
            }),
            ..resource(ResourceKind::LoadBalancer, "arn:lb/app/web/1", "active", "application")
        };
        let f = &run(&[lb(0, 0, &[])])[0];
        assert_eq!((f.rule.as_str(), f.action), ("idle_load_balancer", Action::DeleteLoadBalancer));
        assert_eq!(f.monthly_saving, Money::parse("16.425").ok());
        assert!(f.evidence.contains("no healthy target"), "{}", f.evidence);
        assert!(!needs_activity(&lb(0, 0, &[]), &RulesConfig::default(), now()), "no metrics needed then");
        assert!(needs_activity(&lb(2, 0, &[]), &RulesConfig::default(), now()));
        assert!(run(&[lb(2, 0, &[])]).is_empty(), "metrics not read (or failed): unknown, not idle");
        assert_eq!(run(&[lb(2, 7, &[])]).len(), 1, "read, no datapoints: no requests at all");
        assert_eq!(run(&[lb(2, 7, &[99, 3])]).len(), 1);
        assert!(run(&[lb(2, 7, &[99, 100])]).is_empty(), "one day with 100 requests is use");
        let young = Resource { created_at: Some(now() - Duration::days(3)), ..lb(2, 7, &[]) };
        assert!(run(&[young]).is_empty(), "younger than the window");
    }

    #[test]
    fn one_size_down_skips_sizes_the_family_lacks_or_the_table_does_not_price() {
        let prices = PriceTable::bundled();
        assert_eq!(one_size_down("m5.2xlarge", &prices).as_deref(), Some("m5.xlarge"));
        assert_eq!(one_size_down("t3.medium", &prices).as_deref(), Some("t3.small"));
        assert_eq!(one_size_down("m5.large", &prices), None, "m5 has no medium");
        assert_eq!(one_size_down("t3.nano", &prices), None);
        assert_eq!(one_size_down("nonsense", &prices), None);
    }

    #[test]
    fn current_generation_follows_the_configured_families() {
        let families: Vec<String> = ["m4", "t2"].map(String::from).to_vec();
        assert_eq!(current_generation("m4.xlarge", &families).as_deref(), Some("m5.xlarge"));
        assert_eq!(current_generation("T2.micro", &families).as_deref(), Some("t3.micro"));
        assert_eq!(current_generation("c4.large", &families), None, "c4 is not configured here");
        assert_eq!(current_generation("m5.large", &families), None);
    }
}
