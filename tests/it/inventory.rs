//! The inventory store contract (Postgres and SQLite) and the discovery job over the
//! simulated cloud: targets run concurrently, failures stay with their target, findings come
//! from what the run saw.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use costbot::discovery::Discovery;
use costbot::domain::prices::PriceTable;
use costbot::domain::resource::{ActOutcome, Action, CloudInventory, Resource, ResourceKind, ResourceRef, SafetyPath};
use costbot::domain::waste::{PolicyConfig, RulesConfig};
use costbot::domain::{AccountId, Money};
use costbot::sim_inventory::{SimInventory, DATA, PROD, REGION, STAGING};
use costbot::store::{DynStore, SqliteStore};

/// Generates `<case>_postgres` and `<case>_sqlite` tests for each contract case.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = "migrations/postgres")]
                async fn $case(pool: sqlx::PgPool) {
                    super::$case(std::sync::Arc::new(costbot::store::PgStore::from_pool(pool))).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(costbot::store::SqliteStore::in_memory().await.unwrap())).await;
                }
            )*
        }
    };
}

contract!(
    inventory_keeps_first_sightings_and_marks_vanished_resources_gone,
    inventory_refuses_resources_of_another_target
);

fn acct(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn at(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

fn resource(account: &str, region: &str, id: &str, state: &str) -> Resource {
    Resource {
        reference: ResourceRef {
            account: acct(account),
            region: region.into(),
            kind: ResourceKind::Ec2Instance,
            id: id.into(),
        },
        state: state.into(),
        tags: BTreeMap::from([("Owner".to_string(), "dana".to_string())]),
        created_at: Some(at("2026-01-01T00:00:00")),
        state_since: None,
        size_class: Some("m5.large".into()),
        storage_gib: None,
        // Ten decimal places survive the store exactly.
        monthly_cost: Some(Money::parse("70.0800000001").unwrap()),
        dependencies: vec!["in Auto Scaling group web".into()],
        activity: None,
    }
}

async fn inventory_keeps_first_sightings_and_marks_vanished_resources_gone(store: DynStore) {
    const A: &str = "123456789012";
    let (t1, t2, t3) = (at("2026-11-01T06:30:00"), at("2026-11-02T06:30:00"), at("2026-11-03T06:30:00"));
    let (a, b) = (resource(A, "us-east-1", "i-a", "running"), resource(A, "us-east-1", "i-b", "running"));
    let other_region = resource(A, "eu-west-1", "i-c", "running");
    assert_eq!(store.replace_inventory(&acct(A), "us-east-1", &[a.clone(), b.clone()], t1).await.unwrap(), 2);
    store.replace_inventory(&acct(A), "eu-west-1", std::slice::from_ref(&other_region), t1).await.unwrap();

    // Day 2: a is stopped, b vanished.
    let a_stopped = Resource { state: "stopped".into(), ..a.clone() };
    store.replace_inventory(&acct(A), "us-east-1", std::slice::from_ref(&a_stopped), t2).await.unwrap();
    let present = store.inventory(false).await.unwrap();
    assert_eq!(
        present,
        vec![(other_region.clone(), t1, t1), (a_stopped.clone(), t1, t2)],
        "eu-west-1 sorts first; b is gone"
    );
    let all = store.inventory(true).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.contains(&(b.clone(), t1, t1)), "gone rows keep their last record and sighting");

    // Day 3: b is back and keeps its first sighting; replacing twice changes nothing.
    for _ in 0..2 {
        store.replace_inventory(&acct(A), "us-east-1", &[a_stopped.clone(), b.clone()], t3).await.unwrap();
    }
    let present = store.inventory(false).await.unwrap();
    assert_eq!(present, vec![(other_region, t1, t1), (a_stopped, t1, t3), (b, t1, t3)]);

    // An empty answer for a region marks everything there gone, and nothing elsewhere.
    store.replace_inventory(&acct(A), "us-east-1", &[], t3 + chrono::Duration::days(1)).await.unwrap();
    let present = store.inventory(false).await.unwrap();
    assert_eq!(present.len(), 1);
    assert_eq!(present[0].0.reference.region, "eu-west-1");
}

async fn inventory_refuses_resources_of_another_target(store: DynStore) {
    let stray = resource("210987654321", "us-east-1", "i-x", "running");
    let err = store
        .replace_inventory(&acct("123456789012"), "us-east-1", &[stray], at("2026-11-01T00:00:00"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("210987654321"), "{err}");
    assert!(store.inventory(true).await.unwrap().is_empty(), "nothing was written");
}

fn now() -> NaiveDateTime {
    at("2026-11-25T12:00:00")
}

/// A cloud where one account's API always fails, to show failures stay with their target.
struct PartlyBroken {
    inner: SimInventory,
    broken: AccountId,
}

#[async_trait]
impl CloudInventory for PartlyBroken {
    async fn discover(&self, account: &AccountId, region: &str) -> anyhow::Result<Vec<Resource>> {
        if account == &self.broken {
            anyhow::bail!("AccessDenied: not authorized to perform ec2:DescribeInstances");
        }
        self.inner.discover(account, region).await
    }
    async fn describe(&self, resource: &ResourceRef) -> anyhow::Result<Option<Resource>> {
        self.inner.describe(resource).await
    }
    async fn act(&self, resource: &ResourceRef, action: Action, dry_run: bool) -> anyhow::Result<ActOutcome> {
        self.inner.act(resource, action, dry_run).await
    }
}

fn discovery(store: DynStore, inventory: Arc<dyn CloudInventory>) -> Discovery {
    let targets = [PROD, STAGING, DATA]
        .into_iter()
        .flat_map(|a| [(acct(a), REGION.to_string()), (acct(a), "eu-west-1".to_string())])
        .collect();
    Discovery {
        store,
        inventory,
        targets,
        concurrency: 4,
        rules: RulesConfig::default(),
        policy: PolicyConfig::default(),
    }
}

#[tokio::test]
async fn discovery_stores_every_target_and_finds_the_demo_waste() {
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sim = Arc::new(SimInventory::demo(now(), &PriceTable::bundled()));
    let report = discovery(store.clone(), sim).run(now()).await.unwrap();
    assert_eq!((report.targets_ok, report.resources, report.failures.len()), (6, 7, 0));
    assert_eq!(store.inventory(false).await.unwrap().len(), 7);
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort();
    assert_eq!(
        rules,
        ["expired_ttl", "idle_database", "idle_instance", "stopped_instance", "unassociated_ip", "unattached_volume"]
    );
    let production = report.findings.iter().find(|f| f.rule == "idle_instance").unwrap();
    assert!(matches!(&production.path, SafetyPath::Excluded { reason } if reason.contains("Environment=Production")));
}

#[tokio::test]
async fn a_failing_target_is_reported_and_its_stale_inventory_is_not_used() {
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sim = Arc::new(SimInventory::demo(now(), &PriceTable::bundled()));
    discovery(store.clone(), sim).run(now()).await.unwrap();

    // The next day the staging account's credentials stop working.
    let broken =
        Arc::new(PartlyBroken { inner: SimInventory::demo(now(), &PriceTable::bundled()), broken: acct(STAGING) });
    let later = now() + chrono::Duration::days(1);
    let report = discovery(store.clone(), broken).run(later).await.unwrap();
    assert_eq!(report.targets_ok, 4);
    let failed: Vec<(&str, &str)> = report.failures.iter().map(|f| (f.account.as_str(), f.region.as_str())).collect();
    assert_eq!(failed, [(STAGING, "eu-west-1"), (STAGING, REGION)]);
    assert!(report.failures[0].error.contains("AccessDenied"), "{:?}", report.failures[0]);
    // Staging's rows stay (not gone), but findings only use what this run saw.
    let staging_rows = store
        .inventory(false)
        .await
        .unwrap()
        .into_iter()
        .filter(|(r, _, _)| r.reference.account == acct(STAGING))
        .count();
    assert_eq!(staging_rows, 3);
    assert!(report.findings.iter().all(|f| f.resource.reference.account != acct(STAGING)), "{:#?}", report.findings);
    assert_eq!(report.findings.len(), 3, "the address, the idle database and the excluded production instance");
}
