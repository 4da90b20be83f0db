//! SQL for the append-only, hash-chained audit log, shared by both stores.

/// Implements `AuditStore` for a struct with a `pool` field.
macro_rules! impl_audit_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AuditStore for $store {
            async fn append_audit(
                &self,
                record: &$crate::domain::audit::AuditRecord,
            ) -> anyhow::Result<$crate::domain::audit::AuditEntry> {
                use chrono::SubsecRound;
                use $crate::domain::audit::{chain_hash, AuditEntry, GENESIS};
                // Postgres keeps microseconds; hash exactly what will be read back.
                let record = &$crate::domain::audit::AuditRecord { at: record.at.trunc_subsecs(6), ..record.clone() };
                // Racing appends read the same head; UNIQUE (prev_hash) lets one win and the
                // other retry on the new head, so the chain stays a single line.
                let mut last_error = None;
                for _ in 0..8 {
                    let head: Option<String> =
                        sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                            .fetch_optional(&self.pool)
                            .await?;
                    let prev = head.unwrap_or_else(|| GENESIS.to_string());
                    let hash = chain_hash(&prev, record);
                    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
                        "INSERT INTO audit_log (at, actor, action, target, channel, detail, prev_hash, hash)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                    )
                    .bind(record.at)
                    .bind(&record.actor)
                    .bind(&record.action)
                    .bind(&record.target)
                    .bind(record.channel.as_deref())
                    .bind(&record.detail)
                    .bind(&prev)
                    .bind(&hash)
                    .fetch_one(&self.pool)
                    .await;
                    match inserted {
                        Ok(seq) => return Ok(AuditEntry { seq, record: record.clone(), prev_hash: prev, hash }),
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => last_error = Some(e.to_string()),
                        Err(e) => return Err(e.into()),
                    }
                }
                anyhow::bail!("could not append to the audit log under contention: {}", last_error.unwrap_or_default())
            }

            async fn audit_entries(
                &self,
                after: i64,
                limit: u32,
            ) -> anyhow::Result<Vec<$crate::domain::audit::AuditEntry>> {
                type Row = (i64, chrono::NaiveDateTime, String, String, String, Option<String>, String, String, String);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT seq, at, actor, action, target, channel, detail, prev_hash, hash FROM audit_log
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, at, actor, action, target, channel, detail, prev_hash, hash)| {
                        $crate::domain::audit::AuditEntry {
                            seq,
                            record: $crate::domain::audit::AuditRecord { at, actor, action, target, channel, detail },
                            prev_hash,
                            hash,
                        }
                    })
                    .collect())
            }
        }
    };
}

pub(super) use impl_audit_store;
