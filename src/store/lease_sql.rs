//! SQL for leadership leases, shared by both stores like `sql.rs`.
//!
//! Every lease time comes from the database's clock, never from a replica's: on Postgres
//! `now()` in UTC, on SQLite SQLite's own `'now'` (one process, so one clock anyway). Two pods
//! whose clocks disagree by minutes still agree on who holds the lease. The only part that
//! differs between the dialects is how "now" and "now + ttl" are written, so the statements
//! are written once with `{now}` and `{expiry}` placeholders.

use anyhow::Result;
use async_trait::async_trait;
use chrono::NaiveDateTime;

use crate::domain::lease::Lease;

/// Named leases: who leads, for how long, in which term.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease `name` for `holder` if it is free, expired or already `holder`'s, and
    /// (re)sets its expiry to `ttl` from now, in one atomic statement. Returns the lease when
    /// `holder` holds it afterwards, `None` when another holder's lease is still live. The
    /// term grows by one whenever the lease changes hands.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl: std::time::Duration) -> Result<Option<Lease>>;

    /// Ends `holder`'s lease now, so another replica can take over without waiting for it to
    /// expire. `false` when `holder` did not hold it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool>;

    /// The lease `name` if someone holds it and it has not expired.
    async fn live_lease(&self, name: &str) -> Result<Option<Lease>>;
}

/// Claims of scheduled ticks: exactly one replica runs each `(job, tick)`.
#[async_trait]
pub trait TickStore: Send + Sync {
    /// Claims one scheduled tick of a job for this replica. Exactly one caller per
    /// `(job, tick)` gets `true`, however many replicas share the database.
    async fn claim_tick(&self, job: &str, tick: NaiveDateTime, owner: &str) -> Result<bool>;

    /// Claims one scheduled tick like [`TickStore::claim_tick`], but only
    /// while `holder` still holds the live lease `lease` at `term`. A leader that was paused
    /// and lost its lease without noticing claims nothing, so it cannot run a tick that its
    /// successor is responsible for.
    async fn claim_tick_as_leader(
        &self,
        job: &str,
        tick: NaiveDateTime,
        holder: &str,
        lease: &str,
        term: i64,
    ) -> Result<bool>;
}

/// The database's clock, for every deadline that more than one replica compares: claims of
/// proposals and outbox threads. Replicas' clocks may disagree; the database has one.
#[async_trait]
pub trait ClockStore: Send + Sync {
    /// The database's current time in UTC.
    async fn database_now(&self) -> Result<NaiveDateTime>;
}

/// Postgres: the database's clock, in UTC, as a `TIMESTAMP`.
pub(super) const PG_NOW: &str = "(now() AT TIME ZONE 'UTC')";
/// Postgres: `ttl` seconds (bound as `$3`, a float) from the database's now.
pub(super) const PG_EXPIRY: &str = "((now() AT TIME ZONE 'UTC') + make_interval(secs => $3))";
/// SQLite: its own clock, in the text form sqlx writes timestamps in (so they compare).
pub(super) const SQLITE_NOW: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
/// SQLite: `ttl` seconds (bound as `$3`) from now.
pub(super) const SQLITE_EXPIRY: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || $3 || ' seconds')";

/// A `leases` row: name, holder, term, acquired_at, expires_at.
pub(super) type LeaseRow = (String, String, i64, NaiveDateTime, NaiveDateTime);

/// The lease a row holds.
pub(super) fn lease_from_row((name, holder, term, acquired_at, expires_at): LeaseRow) -> Lease {
    Lease { name, holder, term, acquired_at, expires_at }
}

/// Fills a statement's `{now}` and `{expiry}` placeholders with the dialect's expressions.
pub(super) fn dialect(sql: &str, now: &str, expiry: &str) -> String {
    sql.replace("{now}", now).replace("{expiry}", expiry)
}

/// Implements `LeaseStore` and `TickStore` for a struct with a `pool` field, given the dialect's expressions
/// for the current time and for the expiry.
macro_rules! impl_lease_store {
    ($store:ty, $db:ty, $now:expr, $expiry:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::LeaseStore for $store {
            async fn acquire_lease(
                &self,
                name: &str,
                holder: &str,
                ttl: std::time::Duration,
            ) -> anyhow::Result<Option<$crate::domain::lease::Lease>> {
                // The WHERE of DO UPDATE is the whole decision: the row is only touched when
                // its lease is ours or has run out. Postgres evaluates it on the latest row
                // version after waiting for a concurrent writer, so two replicas can never
                // both get a row back.
                let sql = $crate::store::lease_sql::dialect(
                    "INSERT INTO leases (name, holder, term, acquired_at, expires_at)
                     VALUES ($1, $2, 1, {now}, {expiry})
                     ON CONFLICT (name) DO UPDATE SET
                         term = CASE WHEN leases.holder = excluded.holder THEN leases.term ELSE leases.term + 1 END,
                         acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
                         holder = excluded.holder,
                         expires_at = excluded.expires_at
                     WHERE leases.holder = excluded.holder OR leases.expires_at <= {now}
                     RETURNING name, holder, term, acquired_at, expires_at",
                    $now,
                    $expiry,
                );
                let row: Option<$crate::store::lease_sql::LeaseRow> = sqlx::query_as(&sql)
                    .bind(name)
                    .bind(holder)
                    .bind(ttl.as_secs_f64())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::lease_sql::lease_from_row))
            }

            async fn release_lease(&self, name: &str, holder: &str) -> anyhow::Result<bool> {
                let sql = $crate::store::lease_sql::dialect(
                    "UPDATE leases SET expires_at = {now} WHERE name = $1 AND holder = $2 AND expires_at > {now}",
                    $now,
                    $expiry,
                );
                let released = sqlx::query(&sql).bind(name).bind(holder).execute(&self.pool).await?.rows_affected();
                Ok(released == 1)
            }

            async fn live_lease(&self, name: &str) -> anyhow::Result<Option<$crate::domain::lease::Lease>> {
                let sql = $crate::store::lease_sql::dialect(
                    "SELECT name, holder, term, acquired_at, expires_at FROM leases WHERE name = $1 AND expires_at > {now}",
                    $now,
                    $expiry,
                );
                let row: Option<$crate::store::lease_sql::LeaseRow> = sqlx::query_as(&sql).bind(name).fetch_optional(&self.pool).await?;
                Ok(row.map($crate::store::lease_sql::lease_from_row))
            }

        }

        #[async_trait::async_trait]
        impl $crate::store::ClockStore for $store {
            async fn database_now(&self) -> anyhow::Result<chrono::NaiveDateTime> {
                let sql = format!("SELECT {}", $now);
                Ok(sqlx::query_scalar(&sql).fetch_one(&self.pool).await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::TickStore for $store {
            async fn claim_tick(&self, job: &str, tick: chrono::NaiveDateTime, owner: &str) -> anyhow::Result<bool> {
                let result = sqlx::query(
                    "INSERT INTO job_runs (job, scheduled_tick, claimed_by, claimed_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (job, scheduled_tick) DO NOTHING",
                )
                .bind(job)
                .bind(tick)
                .bind(owner)
                .bind(chrono::Utc::now().naive_utc())
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn claim_tick_as_leader(
                &self,
                job: &str,
                tick: chrono::NaiveDateTime,
                holder: &str,
                lease: &str,
                term: i64,
            ) -> anyhow::Result<bool> {
                // One statement, so the lease check and the claim cannot be separated by a
                // takeover. (SQLite needs the SELECT's WHERE to parse INSERT … SELECT with an
                // upsert clause; it has one.)
                let sql = $crate::store::lease_sql::dialect(
                    "INSERT INTO job_runs (job, scheduled_tick, claimed_by, claimed_at)
                     SELECT $1, $2, $3, $4 WHERE EXISTS (
                         SELECT 1 FROM leases WHERE name = $5 AND holder = $3 AND term = $6 AND expires_at > {now})
                     ON CONFLICT (job, scheduled_tick) DO NOTHING",
                    $now,
                    $expiry,
                );
                let claimed = sqlx::query(&sql)
                    .bind(job)
                    .bind(tick)
                    .bind(holder)
                    .bind(chrono::Utc::now().naive_utc())
                    .bind(lease)
                    .bind(term)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(claimed == 1)
            }
        }
    };
}

pub(super) use impl_lease_store;
