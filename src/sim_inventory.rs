//! A simulated cloud inventory for `costbot demo`: a handful of resources in the simulated
//! accounts of [`crate::sim`], one for each waste rule plus the cases that must not be
//! proposed (a protected production instance, a busy one). Acting changes the in-memory state,
//! so the whole find → approve → act → re-check loop can be shown without AWS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{Duration, NaiveDateTime};

use crate::domain::prices::PriceTable;
use crate::domain::resource::{ActOutcome, Action, Activity, CloudInventory, Resource, ResourceKind, ResourceRef};
use crate::domain::{AccountId, Money};

/// The simulated production account.
pub const PROD: &str = "222222222222";
/// The simulated staging account.
pub const STAGING: &str = "333333333333";
/// The simulated data account.
pub const DATA: &str = "444444444444";
/// The region every simulated resource lives in.
pub const REGION: &str = "us-east-1";

/// The simulated inventory.
pub struct SimInventory {
    resources: Mutex<HashMap<ResourceRef, Resource>>,
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap_or_else(|_| unreachable!("simulated account ids are valid"))
}

struct Spec<'a> {
    account: &'a str,
    kind: ResourceKind,
    id: &'a str,
    state: &'a str,
    class: &'a str,
    tags: &'a [(&'a str, &'a str)],
}

fn build(spec: Spec<'_>, created_days_ago: i64, now: NaiveDateTime) -> Resource {
    Resource {
        reference: ResourceRef {
            account: account(spec.account),
            region: REGION.to_string(),
            kind: spec.kind,
            id: spec.id.to_string(),
        },
        state: spec.state.to_string(),
        tags: spec.tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        created_at: Some(now - Duration::days(created_days_ago)),
        state_since: None,
        size_class: Some(spec.class.to_string()),
        storage_gib: None,
        monthly_cost: None,
        dependencies: Vec::new(),
        activity: None,
    }
}

fn activity(cpu: f64, network_mib: u64) -> Option<Activity> {
    Some(Activity {
        days: 14,
        max_cpu_percent: Some(cpu),
        network_bytes: Some(network_mib * 1024 * 1024),
        max_db_connections: None,
        ..Activity::default()
    })
}

impl SimInventory {
    /// The demo inventory as of `now`, priced with `prices`.
    pub fn demo(now: NaiveDateTime, prices: &PriceTable) -> SimInventory {
        let ec2 = ResourceKind::Ec2Instance;
        let mut list = Vec::new();

        // Stopped for 40 days; what it still costs is its 50 GiB gp3 root volume.
        let mut stopped = build(
            Spec {
                account: STAGING,
                kind: ec2,
                id: "i-0sim0stopped0040d",
                state: "stopped",
                class: "t3.large",
                tags: &[("Name", "old-load-test"), ("Owner", "dana")],
            },
            200,
            now,
        );
        stopped.state_since = Some(now - Duration::days(40));
        stopped.monthly_cost = prices.ebs_monthly("gp3", 50);
        list.push(stopped);

        let mut volume = build(
            Spec {
                account: STAGING,
                kind: ResourceKind::EbsVolume,
                id: "vol-0sim0unattached0",
                state: "available",
                class: "gp3",
                tags: &[("Name", "scratch-data")],
            },
            60,
            now,
        );
        volume.state_since = Some(now - Duration::days(20));
        volume.storage_gib = Some(200);
        volume.monthly_cost = prices.ebs_monthly("gp3", 200);
        list.push(volume);

        let mut address = build(
            Spec {
                account: PROD,
                kind: ResourceKind::ElasticIp,
                id: "eipalloc-0sim0idle00",
                state: "unassociated",
                class: "vpc",
                tags: &[],
            },
            90,
            now,
        );
        address.size_class = None;
        address.monthly_cost = Some(prices.elastic_ip_monthly());
        list.push(address);

        let mut db = build(
            Spec {
                account: DATA,
                kind: ResourceKind::RdsInstance,
                id: "sim-dev-reports",
                state: "available",
                class: "db.t3.medium",
                tags: &[("Environment", "dev")],
            },
            120,
            now,
        );
        db.storage_gib = Some(100);
        db.monthly_cost = prices.rds_monthly("db.t3.medium");
        db.activity = Some(Activity { days: 14, max_db_connections: Some(0.0), ..Activity::default() });
        list.push(db);

        // Idle too, but production: the policy must exclude it and say why.
        let mut prod = build(
            Spec {
                account: PROD,
                kind: ec2,
                id: "i-0sim0production0",
                state: "running",
                class: "m5.xlarge",
                tags: &[("Environment", "Production"), ("Name", "billing-api")],
            },
            300,
            now,
        );
        prod.monthly_cost = prices.ec2_monthly("m5.xlarge");
        prod.activity = activity(2.0, 1);
        list.push(prod);

        let expired_on = (now - Duration::days(10)).date().to_string();
        let mut expired = build(
            Spec {
                account: STAGING,
                kind: ec2,
                id: "i-0sim0expired0000",
                state: "running",
                class: "t3.medium",
                tags: &[("expires-at", expired_on.as_str()), ("Name", "demo-for-acme")],
            },
            30,
            now,
        );
        expired.monthly_cost = prices.ec2_monthly("t3.medium");
        expired.activity = activity(35.0, 900);
        list.push(expired);

        let mut busy = build(
            Spec {
                account: PROD,
                kind: ec2,
                id: "i-0sim0busy0000000",
                state: "running",
                class: "c5.2xlarge",
                tags: &[("Name", "checkout")],
            },
            400,
            now,
        );
        busy.monthly_cost = prices.ec2_monthly("c5.2xlarge");
        busy.activity = activity(63.0, 40 * 1024);
        list.push(busy);

        SimInventory { resources: Mutex::new(list.into_iter().map(|r| (r.reference.clone(), r)).collect()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ResourceRef, Resource>> {
        // A panic while holding the lock cannot leave a half-written resource (every change is
        // one assignment), so a poisoned lock is safe to keep using.
        self.resources.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state an action leads to, or `None` when the action removes the resource; an error when
/// the action does not apply to the resource in its state.
fn next_state(resource: &Resource, action: Action) -> Result<Option<&'static str>> {
    use ResourceKind::*;
    let next = match (resource.reference.kind, action, resource.state.as_str()) {
        (Ec2Instance, Action::StopInstance, "running") => Some("stopped"),
        (Ec2Instance, Action::TerminateInstance, _) => None,
        (EbsVolume, Action::DeleteVolume, "available") => None,
        (ElasticIp, Action::ReleaseAddress, "unassociated") => None,
        (RdsInstance, Action::StopDatabase, "available") => Some("stopped"),
        (Ec2Instance, Action::StartInstance, "stopped") => Some("running"),
        (RdsInstance, Action::StartDatabase, "stopped") => Some("available"),
        (RdsInstance, Action::DeleteDatabaseWithSnapshot, _) => None,
        (_, action, state) => bail!("cannot {} {} while it is {state}", action.verb(), resource.reference),
    };
    Ok(next)
}

#[async_trait]
impl CloudInventory for SimInventory {
    async fn discover(&self, account: &AccountId, region: &str) -> Result<Vec<Resource>> {
        let mut found: Vec<Resource> = self
            .lock()
            .values()
            .filter(|r| &r.reference.account == account && r.reference.region == region)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(found)
    }

    async fn describe(&self, resource: &ResourceRef) -> Result<Option<Resource>> {
        Ok(self.lock().get(resource).cloned())
    }

    async fn act(&self, resource: &ResourceRef, action: Action, dry_run: bool) -> Result<ActOutcome> {
        let mut resources = self.lock();
        let Some(current) = resources.get_mut(resource) else { bail!("{resource} does not exist (any more)") };
        let next = next_state(current, action)?;
        if dry_run {
            return Ok(ActOutcome::DryRun { detail: format!("would {} {resource} (simulated)", action.verb()) });
        }
        match next {
            Some(state) => {
                current.state = state.to_string();
                current.state_since = Some(chrono::Utc::now().naive_utc());
                // A stopped resource no longer costs compute; the simulation does not model
                // the storage it keeps.
                current.monthly_cost = Some(Money::ZERO);
                current.activity = None;
                Ok(ActOutcome::Done { new_state: state.to_string() })
            }
            None => {
                resources.remove(resource);
                let gone = match action {
                    Action::TerminateInstance => "terminated",
                    Action::ReleaseAddress => "released",
                    _ => "deleted",
                };
                Ok(ActOutcome::Done { new_state: gone.to_string() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resource::SafetyPath;
    use crate::domain::waste::{findings, PolicyConfig, RulesConfig};

    fn now() -> NaiveDateTime {
        "2026-11-25T12:00:00".parse().unwrap()
    }

    async fn everything(sim: &SimInventory) -> Vec<Resource> {
        let mut all = Vec::new();
        for id in [PROD, STAGING, DATA] {
            all.extend(sim.discover(&account(id), REGION).await.unwrap());
        }
        all
    }

    #[tokio::test]
    async fn the_demo_has_one_finding_per_rule_and_excludes_production() {
        let sim = SimInventory::demo(now(), &PriceTable::bundled());
        let found = findings(&everything(&sim).await, &RulesConfig::default(), &PolicyConfig::default(), now());
        let mut rules: Vec<(&str, &str, bool)> = found
            .iter()
            .map(|f| (f.rule.as_str(), f.resource.reference.id.as_str(), matches!(f.path, SafetyPath::Excluded { .. })))
            .collect();
        rules.sort();
        assert_eq!(
            rules,
            [
                ("expired_ttl", "i-0sim0expired0000", false),
                ("idle_database", "sim-dev-reports", false),
                ("idle_instance", "i-0sim0production0", true),
                ("stopped_instance", "i-0sim0stopped0040d", false),
                ("unassociated_ip", "eipalloc-0sim0idle00", false),
                ("unattached_volume", "vol-0sim0unattached0", false),
            ]
        );
        assert!(found.iter().all(|f| f.monthly_saving.is_some()), "every demo resource has a known price");
    }

    #[tokio::test]
    async fn acting_changes_the_state_and_dry_runs_change_nothing() {
        let sim = SimInventory::demo(now(), &PriceTable::bundled());
        let expired = ResourceRef {
            account: account(STAGING),
            region: REGION.into(),
            kind: ResourceKind::Ec2Instance,
            id: "i-0sim0expired0000".into(),
        };
        let outcome = sim.act(&expired, Action::StopInstance, true).await.unwrap();
        assert!(matches!(outcome, ActOutcome::DryRun { .. }));
        assert_eq!(sim.describe(&expired).await.unwrap().unwrap().state, "running");
        let outcome = sim.act(&expired, Action::StopInstance, false).await.unwrap();
        assert_eq!(outcome, ActOutcome::Done { new_state: "stopped".into() });
        assert_eq!(sim.describe(&expired).await.unwrap().unwrap().state, "stopped");
        let again = sim.act(&expired, Action::StopInstance, false).await.unwrap_err();
        assert!(again.to_string().contains("while it is stopped"), "{again}");
        sim.act(&expired, Action::TerminateInstance, false).await.unwrap();
        assert_eq!(sim.describe(&expired).await.unwrap(), None);
        assert!(sim.act(&expired, Action::TerminateInstance, false).await.is_err(), "acting on a gone resource fails");
    }
}
