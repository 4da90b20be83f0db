//! Waste rules and the safety policy: which discovered resources look wasteful, what to do
//! about each, and how carefully. Pure: no I/O, the clock is a parameter.
//!
//! Two principles run through the rules. A rule only fires on evidence it can state in a
//! sentence a person can check in the console; and missing data is never evidence: an instance
//! without CloudWatch datapoints, without a launch time or without a state-change time is not
//! called idle or long-stopped.
//!
//! What `Resource::monthly_cost` means (the AWS adapter and the simulation fill it this way):
//! what the resource costs per month *in its current state*, excluding things listed as
//! resources of their own. A running instance's cost is its compute (its volumes are listed
//! separately and keep costing when it stops), so stopping saves exactly that; a stopped
//! instance's cost is the storage of its attached volumes, which terminating it removes (with
//! the usual delete-on-termination volumes); an available DB's cost is its instance hours
//! (stopping keeps the storage); an Elastic IP's cost is the public IPv4 charge.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use super::prices::{Price, PriceTable};
use super::resource::{Action, Resource, ResourceKind, SafetyPath, WasteFinding};
use super::Money;

#[path = "waste_more.rs"]
mod more;

pub use more::{current_generation, one_size_down, PREVIOUS_GENERATION};

/// Every rule id, in the order rules are applied. A resource gets at most one finding: the
/// first rule that fires on it (so an unattached gp2 volume is proposed for deletion, not for
/// a type change, and an expired instance is stopped on its tag, not on its metrics).
pub const RULES: [&str; 14] = [
    "expired_ttl",
    "stopped_instance",
    "unattached_volume",
    "unassociated_ip",
    "idle_instance",
    "idle_database",
    // A schedule someone tagged on purpose wins over a size costbot infers; an idle resource
    // is still proposed to be stopped outright, which saves more.
    "offhours",
    "underutilized_instance",
    "previous_generation",
    "idle_nat_gateway",
    "idle_load_balancer",
    "old_snapshot",
    "orphaned_db_snapshot",
    "gp2_volume",
];

/// `[waste.rules]`: the rules' thresholds, and which rules are off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule ids (from [`RULES`]) that do not run.
    pub disabled: Vec<String>,
    /// `stopped_instance`: days an instance must have been stopped.
    pub stopped_instance_days: u32,
    /// `unattached_volume`: days a volume must have been unattached.
    pub unattached_volume_days: u32,
    /// `expired_ttl`: tag keys holding an expiry date (case-insensitive).
    pub ttl_tags: Vec<String>,
    /// `idle_instance`: highest hourly CPU average, in percent, below which an instance is idle.
    pub idle_cpu_percent: f64,
    /// `idle_instance`: network bytes in plus out, in MiB over the window, below which an
    /// instance is idle.
    pub idle_network_mib: u64,
    /// `gp2_volume`: the largest gp2 volume, in GiB, proposed for gp3. Up to 1,000 GiB a gp2
    /// volume's baseline (3 IOPS per GiB) is at most gp3's included 3,000 IOPS, so the change
    /// is a pure saving; larger ones would need paid gp3 IOPS to match.
    pub gp2_max_gib: u32,
    /// `gp2_volume`: days a volume must exist first. EBS allows one modification per volume
    /// every six hours, and a new volume is often still being set up; a week (the same as
    /// `unattached_volume_days`) keeps proposals to settled volumes.
    pub gp2_min_days: u32,
    /// `old_snapshot`: days an EBS snapshot must be old (its volume gone, no AMI using it).
    pub snapshot_days: u32,
    /// `orphaned_db_snapshot`: days a manual RDS snapshot must be old (its database gone).
    pub db_snapshot_days: u32,
    /// `idle_nat_gateway`: days without a byte out to destinations.
    pub nat_gateway_idle_days: u32,
    /// `offhours`: the tag key holding an off-hours schedule (case-insensitive).
    pub offhours_tag: String,
    /// `idle_load_balancer`: the days looked at (Trusted Advisor's idle load balancer check:
    /// 7).
    pub load_balancer_idle_days: u32,
    /// `idle_load_balancer`: a load balancer with fewer requests than this on every one of
    /// those days is idle (Trusted Advisor: 100 a day).
    pub load_balancer_min_daily_requests: u64,
    /// `underutilized_instance`: a day counts as low when the instance's CPU averaged at most
    /// this, in percent (Trusted Advisor's low utilization check: 10 %) ...
    pub underutilized_cpu_percent: f64,
    /// ... and its network in plus out was at most this many MB (10^6 bytes; Trusted
    /// Advisor: 5 MB) ...
    pub underutilized_network_mb: u64,
    /// ... and the instance is underutilized with at least this many low days in the window
    /// (`idle_days`, 14 by default; Trusted Advisor: 4 of the last 14 days).
    pub underutilized_min_days: u32,
    /// `previous_generation`: instance families proposed for their current generation
    /// (`m4`, `t2`, …); the default is [`PREVIOUS_GENERATION`].
    pub previous_generation_families: Vec<String>,
    /// The activity window, in days. Set from `[waste] idle_days`, not here, so the window
    /// CloudWatch is asked about and the window the rules require are always the same.
    #[serde(skip)]
    pub idle_days: u32,
    /// The price table the sizing rules compare types with. Set from `[waste.prices]`, not
    /// here, so a saving shown and the cost shown come from the same table.
    #[serde(skip)]
    pub prices: PriceTable,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            disabled: Vec::new(),
            stopped_instance_days: 14,
            unattached_volume_days: 7,
            ttl_tags: vec!["expires-at".to_string(), "ttl".to_string(), "expiry".to_string()],
            idle_cpu_percent: 5.0,
            idle_network_mib: 5,
            gp2_max_gib: 1_000,
            gp2_min_days: 7,
            snapshot_days: 90,
            db_snapshot_days: 90,
            nat_gateway_idle_days: 30,
            offhours_tag: super::offhours::DEFAULT_TAG.to_string(),
            load_balancer_idle_days: 7,
            load_balancer_min_daily_requests: 100,
            underutilized_cpu_percent: 10.0,
            underutilized_network_mb: 5,
            underutilized_min_days: 4,
            previous_generation_families: PREVIOUS_GENERATION.iter().map(|(f, _)| f.to_string()).collect(),
            idle_days: 14,
            prices: PriceTable::bundled(),
        }
    }
}

impl RulesConfig {
    /// Refuses unknown rule ids and thresholds that make no sense.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(unknown) = self.disabled.iter().find(|r| !RULES.contains(&r.as_str())) {
            return Err(format!("unknown rule `{unknown}` in disabled (known: {})", RULES.join(", ")));
        }
        if !(self.idle_cpu_percent.is_finite() && (0.0..=100.0).contains(&self.idle_cpu_percent)) {
            return Err("idle_cpu_percent must be between 0 and 100".to_string());
        }
        if !(1..=60).contains(&self.nat_gateway_idle_days) {
            return Err("nat_gateway_idle_days must be between 1 and 60".to_string());
        }
        if !(1..=60).contains(&self.load_balancer_idle_days) {
            return Err("load_balancer_idle_days must be between 1 and 60".to_string());
        }
        if !(self.underutilized_cpu_percent.is_finite() && (0.0..=100.0).contains(&self.underutilized_cpu_percent)) {
            return Err("underutilized_cpu_percent must be between 0 and 100".to_string());
        }
        if self.underutilized_min_days == 0 {
            return Err("underutilized_min_days must be at least 1".to_string());
        }
        if let Some(unknown) = self.previous_generation_families.iter().find(|f| more::successor(f.trim()).is_none()) {
            let known: Vec<&str> = PREVIOUS_GENERATION.iter().map(|(f, _)| *f).collect();
            return Err(format!(
                "previous_generation_families: no current generation known for `{unknown}` (known: {})",
                known.join(", ")
            ));
        }
        Ok(())
    }

    /// True unless the rule is in `disabled`.
    pub fn enabled(&self, rule: &str) -> bool {
        !self.disabled.iter().any(|r| r == rule)
    }
}

/// `[waste.policy]`: when a finding is never proposed, or needs two approvers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// `Key=Value` tags that exclude a resource (case-insensitive; `Key=*` matches any value).
    pub protected_tags: Vec<String>,
    /// A launch or state change this many days ago or less makes a finding strict.
    pub recent_days: u32,
    /// A monthly cost above this makes a finding strict (USD).
    pub strict_above_monthly: Price,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            protected_tags: ["Environment=Production", "Critical=Yes", "Termination=Never", "costbot:protect=*"]
                .map(String::from)
                .to_vec(),
            recent_days: 7,
            strict_above_monthly: Price(Money::from_cents(100_000)),
        }
    }
}

impl PolicyConfig {
    /// Refuses protected tags that are not `Key=Value`.
    pub fn validate(&self) -> Result<(), String> {
        match self
            .protected_tags
            .iter()
            .find(|t| !t.split_once('=').is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty()))
        {
            Some(bad) => Err(format!("protected tag `{bad}` is not Key=Value (use Key=* for any value)")),
            None => Ok(()),
        }
    }
}

/// Applies every enabled rule to every resource, then the safety policy to every finding.
/// Excluded findings are kept (with their reason) so a person can see why nothing is proposed.
pub fn findings(
    resources: &[Resource],
    rules: &RulesConfig,
    policy: &PolicyConfig,
    now: NaiveDateTime,
) -> Vec<WasteFinding> {
    let mut out = Vec::new();
    for resource in resources {
        // One finding per resource: the first rule that fires.
        let first = RULES
            .iter()
            .filter(|r| rules.enabled(r))
            .find_map(|rule| apply_rule(rule, resource, rules, now).map(|hit| (rule, hit)));
        if let Some((rule, (action, evidence, saving))) = first {
            out.push(WasteFinding {
                resource: resource.clone(),
                rule: rule.to_string(),
                evidence,
                monthly_saving: saving,
                action,
                path: safety_path(resource, action, policy, now),
            });
        }
    }
    out
}

pub(super) type Hit = (Action, String, Option<Money>);

/// The rules judged on CloudWatch activity: the kind and state each looks at, and the action
/// it proposes. Discovery asks CloudWatch only about resources one of these could flag.
const ACTIVITY_RULES: [(&str, ResourceKind, &str); 6] = [
    ("idle_instance", ResourceKind::Ec2Instance, "running"),
    ("underutilized_instance", ResourceKind::Ec2Instance, "running"),
    ("idle_database", ResourceKind::RdsInstance, "available"),
    ("idle_nat_gateway", ResourceKind::NatGateway, "available"),
    ("idle_load_balancer", ResourceKind::LoadBalancer, "active"),
    ("idle_load_balancer", ResourceKind::ClassicLoadBalancer, "active"),
];

/// True when discovery should fetch `r`'s CloudWatch activity: an enabled activity rule looks
/// at resources of its kind and state, and neither an earlier rule nor that rule itself
/// already fires on it without metrics (a resource gets only its first finding, so the
/// metrics could not change anything; a load balancer without a healthy target is idle
/// whatever its requests). With every activity rule disabled this is false for everything,
/// and discovery sends no metric request at all.
pub fn needs_activity(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> bool {
    ACTIVITY_RULES.iter().any(|(rule, kind, state)| {
        rules.enabled(rule)
            && r.reference.kind == *kind
            && r.state == *state
            && !RULES
                .iter()
                .take_while(|earlier| *earlier != rule)
                .filter(|earlier| rules.enabled(earlier))
                .any(|earlier| apply_rule(earlier, r, rules, now).is_some())
            && apply_rule(rule, r, rules, now).is_none()
    })
}

/// The activity window for resources of this kind, in days.
pub fn activity_days(kind: ResourceKind, rules: &RulesConfig) -> u32 {
    match kind {
        ResourceKind::NatGateway => rules.nat_gateway_idle_days,
        ResourceKind::LoadBalancer | ResourceKind::ClassicLoadBalancer => rules.load_balancer_idle_days,
        _ => rules.idle_days,
    }
}

fn apply_rule(rule: &str, r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    match rule {
        "expired_ttl" => expired_ttl(r, rules, now),
        "stopped_instance" => stopped_instance(r, rules, now),
        "unattached_volume" => unattached_volume(r, rules, now),
        "unassociated_ip" => unassociated_ip(r),
        "idle_instance" => idle_instance(r, rules, now),
        "underutilized_instance" => more::underutilized_instance(r, rules, now),
        "previous_generation" => more::previous_generation(r, rules),
        "idle_database" => idle_database(r, rules, now),
        "idle_nat_gateway" => idle_nat_gateway(r, rules),
        "idle_load_balancer" => more::idle_load_balancer(r, rules, now),
        "old_snapshot" => old_snapshot(r, rules, now),
        "orphaned_db_snapshot" => orphaned_db_snapshot(r, rules, now),
        "gp2_volume" => gp2_volume(r, rules, now),
        "offhours" => super::offhours::rule(r, &rules.offhours_tag, now),
        _ => None,
    }
}

pub(super) fn days_between(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    (to - from).num_days()
}

pub(super) fn when(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn stopped_instance(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if r.reference.kind != ResourceKind::Ec2Instance || r.state != "stopped" {
        return None;
    }
    // Without a state-change time there is no proof of how long it has been stopped.
    let since = r.state_since?;
    let days = days_between(since, now);
    if days < i64::from(rules.stopped_instance_days) {
        return None;
    }
    let evidence = format!(
        "stopped since {} ({days} days, over the {}-day limit); its attached volumes still cost money",
        when(since),
        rules.stopped_instance_days
    );
    Some((Action::TerminateInstance, evidence, r.monthly_cost))
}

/// Reads an expiry tag value: an RFC 3339 time, or a date (`YYYY-MM-DD`) which expires at the
/// end of that day (UTC), so nothing is stopped while its owner's last day is still running.
pub fn parse_expiry(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.naive_utc());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    day.succ_opt()?.and_hms_opt(0, 0, 0)
}

fn expired_ttl(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    let action = match (r.reference.kind, r.state.as_str()) {
        (ResourceKind::Ec2Instance, "running") => Action::StopInstance,
        (ResourceKind::Ec2Instance, "stopped") => Action::TerminateInstance,
        (ResourceKind::RdsInstance, "available") => Action::StopDatabase,
        _ => return None,
    };
    let (key, value, expiry) =
        rules.ttl_tags.iter().find_map(|key| r.tag(key).and_then(|v| parse_expiry(v).map(|t| (key, v, t))))?;
    if expiry > now {
        return None;
    }
    let evidence = format!("tag {key}={value} says it expired {} days ago", days_between(expiry, now));
    Some((action, evidence, r.monthly_cost))
}

fn unattached_volume(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if r.reference.kind != ResourceKind::EbsVolume || r.state != "available" {
        return None;
    }
    // AWS does not record when a volume was detached. The state time (when something that
    // knows it, like the simulation, sets it) is the best evidence; otherwise the creation time
    // is a lower bound on the volume's age only, and the evidence says which one it is.
    let (since, what) = match (r.state_since, r.created_at) {
        (Some(t), _) => (t, "unattached since"),
        (None, Some(t)) => (t, "unattached now, created"),
        (None, None) => return None,
    };
    let days = days_between(since, now);
    if days < i64::from(rules.unattached_volume_days) {
        return None;
    }
    let size = r.storage_gib.map_or(String::new(), |g| format!("{g} GiB "));
    let class = r.size_class.as_deref().unwrap_or("volume");
    let evidence = format!(
        "{size}{class} volume {what} {} ({days} days, over the {}-day limit)",
        when(since),
        rules.unattached_volume_days
    );
    Some((Action::DeleteVolume, evidence, r.monthly_cost))
}

fn unassociated_ip(r: &Resource) -> Option<Hit> {
    if r.reference.kind != ResourceKind::ElasticIp || r.state != "unassociated" {
        return None;
    }
    let evidence =
        "Elastic IP is not associated with any instance or network interface, and AWS charges for idle addresses"
            .to_string();
    Some((Action::ReleaseAddress, evidence, r.monthly_cost))
}

/// True when the resource existed for the whole activity window, so its metrics cover it.
pub(super) fn covers_window(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> bool {
    r.created_at.is_some_and(|t| days_between(t, now) >= i64::from(rules.idle_days))
}

fn idle_instance(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if r.reference.kind != ResourceKind::Ec2Instance || r.state != "running" || !covers_window(r, rules, now) {
        return None;
    }
    let activity = r.activity.as_ref().filter(|a| a.days >= rules.idle_days)?;
    // Both numbers must be present: no datapoints is not the same as no activity.
    let cpu = activity.max_cpu_percent?;
    let bytes = activity.network_bytes?;
    let limit = rules.idle_network_mib.saturating_mul(1024 * 1024);
    if cpu >= rules.idle_cpu_percent || bytes >= limit {
        return None;
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let evidence = format!(
        "over the last {} days CPU never averaged above {cpu:.1}% in any hour (limit {}%) and network in+out was {mib:.2} MiB (limit {} MiB)",
        activity.days, rules.idle_cpu_percent, rules.idle_network_mib
    );
    Some((Action::StopInstance, evidence, r.monthly_cost))
}

fn idle_database(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if r.reference.kind != ResourceKind::RdsInstance || r.state != "available" || !covers_window(r, rules, now) {
        return None;
    }
    let activity = r.activity.as_ref().filter(|a| a.days >= rules.idle_days)?;
    let connections = activity.max_db_connections?;
    if connections > 0.0 {
        return None;
    }
    let evidence = format!(
        "no database connections at all in the last {} days (CloudWatch DatabaseConnections max 0)",
        activity.days
    );
    Some((Action::StopDatabase, evidence, r.monthly_cost))
}

fn idle_nat_gateway(r: &Resource, rules: &RulesConfig) -> Option<Hit> {
    if r.reference.kind != ResourceKind::NatGateway || r.state != "available" {
        return None;
    }
    let days = rules.nat_gateway_idle_days;
    let activity = r.activity.as_ref().filter(|a| a.days >= days)?;
    // No datapoints is unknown: a NAT gateway that carried nothing still reports zeros.
    if activity.network_bytes? > 0 {
        return None;
    }
    let evidence = format!(
        "sent 0 bytes to destinations in the last {} days (CloudWatch BytesOutToDestination), yet is billed every hour",
        activity.days
    );
    Some((Action::DeleteNatGateway, evidence, r.monthly_cost))
}

/// A snapshot nothing depends on (for EBS: its volume is gone and no AMI uses it; for RDS:
/// its database is gone), older than `limit` days.
fn orphan_age(r: &Resource, kind: ResourceKind, limit: u32, now: NaiveDateTime) -> Option<(NaiveDateTime, i64)> {
    if r.reference.kind != kind || !r.dependencies.is_empty() || !matches!(r.state.as_str(), "completed" | "available")
    {
        return None;
    }
    let created = r.created_at?;
    let days = days_between(created, now);
    (days >= i64::from(limit)).then_some((created, days))
}

fn old_snapshot(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    let (created, days) = orphan_age(r, ResourceKind::EbsSnapshot, rules.snapshot_days, now)?;
    let size = r.storage_gib.map_or(String::new(), |g| format!(" of a {g} GiB volume"));
    let evidence = format!(
        "snapshot{size} taken {} ({days} days ago, over the {}-day limit); the volume it was taken from is gone and no AMI uses it (saving is at most this: snapshots are incremental)",
        when(created),
        rules.snapshot_days
    );
    Some((Action::DeleteSnapshot, evidence, r.monthly_cost))
}

fn orphaned_db_snapshot(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    let (created, days) = orphan_age(r, ResourceKind::RdsSnapshot, rules.db_snapshot_days, now)?;
    let evidence = format!(
        "manual DB snapshot taken {} ({days} days ago, over the {}-day limit) of a database that no longer exists",
        when(created),
        rules.db_snapshot_days
    );
    Some((Action::DeleteDbSnapshot, evidence, r.monthly_cost))
}

fn gp2_volume(r: &Resource, rules: &RulesConfig, now: NaiveDateTime) -> Option<Hit> {
    if r.reference.kind != ResourceKind::EbsVolume || r.size_class.as_deref() != Some("gp2") {
        return None;
    }
    if r.created_at.is_none_or(|t| days_between(t, now) < i64::from(rules.gp2_min_days)) {
        return None;
    }
    let gib = r.storage_gib?;
    if gib > rules.gp2_max_gib {
        return None;
    }
    // gp3 is $0.08 against gp2's $0.10 per GiB-month in every region's published prices (and
    // the bundled table), so the saving is a fifth of what the volume costs now.
    let saving = r.monthly_cost.map(|cost| Money::from_decimal(cost.as_decimal() * rust_decimal::Decimal::new(2, 1)));
    let evidence = format!(
        "{gib} GiB gp2 volume; gp3 gives at least the same baseline performance up to {} GiB (3,000 IOPS, 125 MiB/s included) for about 20% less, changed in place without downtime",
        rules.gp2_max_gib
    );
    Some((Action::ModifyVolumeToGp3, evidence, saving))
}

/// The protected tag a resource carries, as `Key=Value`, if any.
pub fn protected_tag(r: &Resource, policy: &PolicyConfig) -> Option<String> {
    policy.protected_tags.iter().find_map(|rule| {
        let (key, want) = rule.split_once('=')?;
        let value = r.tag(key.trim())?;
        let want = want.trim();
        (want == "*" || value.trim().eq_ignore_ascii_case(want)).then(|| format!("{}={value}", key.trim()))
    })
}

/// The safety policy's verdict for acting on `r` with `action`. Exclusions win over strictness;
/// all strict reasons are listed, so the approvers know everything that made it strict.
pub fn safety_path(r: &Resource, action: Action, policy: &PolicyConfig, now: NaiveDateTime) -> SafetyPath {
    if let Some(tag) = protected_tag(r, policy) {
        return SafetyPath::Excluded {
            reason: format!("it carries the protected tag {tag}, so costbot never touches it"),
        };
    }
    let deps = r.dependencies.join(", ");
    if !r.dependencies.is_empty() && action.destructive() {
        return SafetyPath::Excluded {
            reason: format!("other things depend on it ({deps}), so costbot will not {} it", action.verb()),
        };
    }
    let mut reasons = Vec::new();
    if action.downtime() {
        reasons.push("it stops and starts the instance to change its type, which means downtime".to_string());
    }
    if !r.dependencies.is_empty() {
        reasons.push(format!("other things depend on it ({deps})"));
    }
    let recent = Duration::days(i64::from(policy.recent_days));
    if let Some(t) = r.created_at.filter(|t| now - *t <= recent) {
        reasons.push(format!("it was launched recently ({})", when(t)));
    }
    if let Some(t) = r.state_since.filter(|t| now - *t <= recent) {
        reasons.push(format!("its state changed recently ({})", when(t)));
    }
    let limit = policy.strict_above_monthly.0;
    if let Some(cost) = r.monthly_cost.filter(|c| *c > limit) {
        reasons.push(format!("it costs about {cost} a month, above the {limit} limit for one approver"));
    }
    if reasons.is_empty() {
        SafetyPath::Normal
    } else {
        SafetyPath::Strict { reason: reasons.join("; ") }
    }
}

#[cfg(test)]
#[path = "waste_tests.rs"]
mod tests;
