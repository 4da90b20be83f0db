//! The Postgres store, costbot's system of record.

use std::time::Duration;

use anyhow::Result;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::access_sql::impl_access_store;
use super::anomaly_sql::impl_anomaly_store;
use super::audit_sql::{impl_audit_store, PG_AUDIT_LOCK};
use super::breakdown_sql::impl_breakdown_store;
use super::budget_sql::impl_budget_store;
use super::change_log::impl_fact_change_store;
use super::console_sql::impl_console_store;
use super::digest_sql::impl_digest_store;
use super::inventory_sql::impl_inventory_store;
use super::lease_sql::{impl_lease_store, PG_EXPIRY, PG_NOW};
use super::outbox_sql::{impl_outbox_store, PG_LOCKED_UNTIL};
use super::proposal_sql::impl_proposal_store;
use super::schedule_sql::impl_schedule_store;
use super::spend_sql::impl_spend_reads;
use super::sql::impl_sql_store;
use super::tag_sql::impl_tag_store;
use super::usage_sql::impl_usage_store;

/// A [`Store`](super::Store) on a Postgres connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// The Postgres migrations, embedded at build time.
    pub const MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

    /// Connects with a bounded pool. Does not migrate; call `migrate` (or `costbot migrate`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }

    /// Wraps an existing pool (tests get one per test from `#[sqlx::test]`).
    pub fn from_pool(pool: PgPool) -> PgStore {
        PgStore { pool }
    }

    /// The underlying pool, for the few Postgres-only operations.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl_sql_store!(PgStore, sqlx::Postgres);
impl_spend_reads!(PgStore, sqlx::Postgres);
impl_anomaly_store!(PgStore, sqlx::Postgres);
impl_access_store!(PgStore, sqlx::Postgres);
impl_outbox_store!(PgStore, sqlx::Postgres, PG_NOW, PG_LOCKED_UNTIL);
impl_digest_store!(PgStore, sqlx::Postgres);
impl_audit_store!(PgStore, sqlx::Postgres, PG_AUDIT_LOCK);
impl_proposal_store!(PgStore, sqlx::Postgres);
impl_schedule_store!(PgStore, sqlx::Postgres);
impl_budget_store!(PgStore, sqlx::Postgres);
impl_inventory_store!(PgStore, sqlx::Postgres);
impl_breakdown_store!(PgStore, sqlx::Postgres);
impl_tag_store!(PgStore, sqlx::Postgres);
impl_fact_change_store!(PgStore);
impl_usage_store!(PgStore, sqlx::Postgres);
impl_console_store!(PgStore, sqlx::Postgres);
impl_lease_store!(PgStore, sqlx::Postgres, PG_NOW, PG_EXPIRY);

impl super::Store for PgStore {}
