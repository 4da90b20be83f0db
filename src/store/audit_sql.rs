//! SQL for the append-only, hash-chained audit log, shared by both stores.
//!
//! An append takes a lock inside its transaction before it reads the head, so concurrent
//! appends (other replicas included) queue instead of racing, and the chain stays one line
//! without retries. The lock is dialect-specific: Postgres a transaction-scoped advisory lock
//! (which needs no privilege on the table, so the runtime role can keep only SELECT and
//! INSERT), SQLite its single writer lock, taken by the first write of the transaction.

/// Postgres: serialise audit appends (the key is arbitrary but fixed: "costbot audit").
pub(super) const PG_AUDIT_LOCK: &str = "SELECT pg_advisory_xact_lock(7405321015)";
/// SQLite: any write takes the database's writer lock until commit; this one changes nothing
/// anyone reads.
pub(super) const SQLITE_AUDIT_LOCK: &str = "INSERT INTO cursors (name, position) VALUES ('audit_append_lock', 0)
     ON CONFLICT (name) DO UPDATE SET position = cursors.position";

/// Implements `AuditStore` for a struct with a `pool` field, with the dialect's append lock.
macro_rules! impl_audit_store {
    ($store:ty, $db:ty, $lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::AuditStore for $store {
            async fn append_audit(
                &self,
                record: &$crate::domain::audit::AuditRecord,
            ) -> anyhow::Result<$crate::domain::audit::AuditEntry> {
                let mut tx = self.pool.begin().await?;
                let entry = append_audit_in(&mut tx, record).await?;
                tx.commit().await?;
                tracing::info!(audit_head = %entry.checkpoint(), "audit log appended");
                Ok(entry)
            }

            async fn audit_entries(
                &self,
                after: i64,
                limit: u32,
            ) -> anyhow::Result<Vec<$crate::domain::audit::AuditEntry>> {
                type Row =
                    (i64, chrono::NaiveDateTime, String, String, String, Option<String>, String, String, String, i64);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT seq, at, actor, action, target, channel, detail, prev_hash, hash, CAST(hash_version AS BIGINT)
                     FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, at, actor, action, target, channel, detail, prev_hash, hash, version)| {
                        $crate::domain::audit::AuditEntry {
                            seq,
                            record: $crate::domain::audit::AuditRecord { at, actor, action, target, channel, detail },
                            prev_hash,
                            hash,
                            hash_version: u8::try_from(version).unwrap_or(u8::MAX),
                        }
                    })
                    .collect())
            }

            async fn audit_head(&self) -> anyhow::Result<Option<$crate::domain::audit::Checkpoint>> {
                let head: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(head.map(|(seq, hash)| $crate::domain::audit::Checkpoint { seq, hash }))
            }
        }

        /// Appends an audit record inside the caller's transaction, so a change and its record
        /// commit together or not at all.
        async fn append_audit_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            record: &$crate::domain::audit::AuditRecord,
        ) -> anyhow::Result<$crate::domain::audit::AuditEntry> {
            use chrono::SubsecRound;
            use $crate::domain::audit::{entry_hash, AuditEntry, GENESIS, HASH_VERSION};
            // Postgres keeps microseconds; hash exactly what will be read back.
            let record = $crate::domain::audit::AuditRecord { at: record.at.trunc_subsecs(6), ..record.clone() };
            sqlx::query($lock).execute(&mut **tx).await?;
            let head: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut **tx)
                    .await?;
            let (last, prev) = head.unwrap_or_else(|| (0, GENESIS.to_string()));
            // The appender numbers entries itself (under the lock), so numbers never skip and
            // the hash can cover them.
            let seq = last + 1;
            let hash = entry_hash(&prev, seq, &record);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, target, channel, detail, prev_hash, hash, hash_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(seq)
            .bind(record.at)
            .bind(&record.actor)
            .bind(&record.action)
            .bind(&record.target)
            .bind(record.channel.as_deref())
            .bind(&record.detail)
            .bind(&prev)
            .bind(&hash)
            .bind(i64::from(HASH_VERSION))
            .execute(&mut **tx)
            .await?;
            Ok(AuditEntry { seq, record, prev_hash: prev, hash, hash_version: HASH_VERSION })
        }
    };
}

pub(super) use impl_audit_store;
