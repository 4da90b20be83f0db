//! The embedded SQLite store: the default when no database URL is configured, so
//! `costbot demo` runs on a fresh machine with nothing installed.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Result;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::access_sql::impl_access_store;
use super::anomaly_sql::impl_anomaly_store;
use super::audit_sql::{impl_audit_store, SQLITE_AUDIT_LOCK};
use super::breakdown_sql::impl_breakdown_store;
use super::budget_sql::impl_budget_store;
use super::change_log::impl_fact_change_store;
use super::console_sql::impl_console_store;
use super::digest_sql::impl_digest_store;
use super::inventory_sql::impl_inventory_store;
use super::lease_sql::{impl_lease_store, SQLITE_EXPIRY, SQLITE_NOW};
use super::outbox_sql::{impl_outbox_store, SQLITE_LOCKED_UNTIL};
use super::proposal_sql::impl_proposal_store;
use super::schedule_sql::impl_schedule_store;
use super::spend_sql::impl_spend_reads;
use super::sql::impl_sql_store;
use super::tag_sql::impl_tag_store;
use super::usage_sql::impl_usage_store;

/// A [`Store`](super::Store) on an SQLite file (or an in-memory database in tests).
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The SQLite migrations, embedded at build time.
    pub const MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

    /// Opens (creating if needed) the file and applies migrations, since an embedded store
    /// has no separate operator to run `costbot migrate`.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL lets the server answer reads while the collector writes.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Without statistics SQLite's planner prefers any covering index, and scanned the
            // whole service index for a scoped question (141 ms where the account index takes
            // 7 ms, at 1 M facts). `optimize` with 0x10002 gathers statistics a connection
            // finds missing or stale, as SQLite advises on opening. It is a full ANALYZE: an
            // approximate one (`analysis_limit = 400`) still chose the wrong rollup index.
            .pragma("optimize", "0x10002");
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        let store = SqliteStore { pool };
        Self::MIGRATOR.run(&store.pool).await?;
        // New indexes and tables from the migrations just applied get their statistics now.
        sqlx::query("PRAGMA optimize").execute(&store.pool).await?;
        Ok(store)
    }

    /// Wraps an existing pool as is, without migrating (tests that start from an older
    /// schema use it).
    pub fn from_pool(pool: SqlitePool) -> SqliteStore {
        SqliteStore { pool }
    }

    /// The underlying pool, for tests that look at rows directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A private in-memory database, migrated, for tests.
    pub async fn in_memory() -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to ":memory:" would be a different database.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        let store = SqliteStore { pool };
        Self::MIGRATOR.run(&store.pool).await?;
        Ok(store)
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite);
impl_spend_reads!(SqliteStore, sqlx::Sqlite);
impl_anomaly_store!(SqliteStore, sqlx::Sqlite);
impl_access_store!(SqliteStore, sqlx::Sqlite);
impl_outbox_store!(SqliteStore, sqlx::Sqlite, SQLITE_NOW, SQLITE_LOCKED_UNTIL);
impl_digest_store!(SqliteStore, sqlx::Sqlite);
impl_audit_store!(SqliteStore, sqlx::Sqlite, SQLITE_AUDIT_LOCK);
impl_proposal_store!(SqliteStore, sqlx::Sqlite);
impl_schedule_store!(SqliteStore, sqlx::Sqlite);
impl_budget_store!(SqliteStore, sqlx::Sqlite);
impl_inventory_store!(SqliteStore, sqlx::Sqlite);
impl_breakdown_store!(SqliteStore, sqlx::Sqlite);
impl_tag_store!(SqliteStore, sqlx::Sqlite);
impl_fact_change_store!(SqliteStore);
impl_usage_store!(SqliteStore, sqlx::Sqlite);
impl_console_store!(SqliteStore, sqlx::Sqlite);
impl_lease_store!(SqliteStore, sqlx::Sqlite, SQLITE_NOW, SQLITE_EXPIRY);

impl super::Store for SqliteStore {}
