//! SQL for digest records, shared by both stores like `sql.rs`.

/// Implements `DigestStore` for a struct with a `pool` field. Must be expanded next to
/// `impl_outbox_store!`, whose `enqueue_in` it uses.
macro_rules! impl_digest_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::DigestStore for $store {
            async fn record_digest(
                &self,
                record: &$crate::store::DigestRecord,
                entries: &[$crate::domain::outbox::OutboxEntry],
            ) -> anyhow::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO digests (platform, channel_id, digest_date, data_day, scheduled_at, created_at, late)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (platform, channel_id, digest_date) DO NOTHING",
                )
                .bind(record.platform.as_str())
                .bind(&record.channel.0)
                .bind(record.date)
                .bind(record.data_day)
                .bind(record.scheduled_at)
                .bind(record.created_at)
                .bind(record.late)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    // Another replica (or an earlier run) recorded this day's digest first.
                    return Ok(false);
                }
                enqueue_in(&mut tx, entries, record.created_at).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn digests(&self, limit: u32) -> anyhow::Result<Vec<$crate::store::DigestRecord>> {
                type Row = (String, String, chrono::NaiveDate, chrono::NaiveDate, chrono::NaiveDateTime, chrono::NaiveDateTime, bool);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT platform, channel_id, digest_date, data_day, scheduled_at, created_at, late FROM digests
                     ORDER BY digest_date DESC, platform, channel_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(platform, channel, date, data_day, scheduled_at, created_at, late)| {
                        Ok($crate::store::DigestRecord {
                            platform: $crate::store::outbox_sql::parse_platform(&platform)?,
                            channel: $crate::domain::chat::ChannelId(channel),
                            date,
                            data_day,
                            scheduled_at,
                            created_at,
                            late,
                        })
                    })
                    .collect()
            }

            async fn digest_recorded(
                &self,
                platform: $crate::domain::chat::Platform,
                channel: &$crate::domain::chat::ChannelId,
                date: chrono::NaiveDate,
            ) -> anyhow::Result<bool> {
                let found: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM digests WHERE platform = $1 AND channel_id = $2 AND digest_date = $3")
                        .bind(platform.as_str())
                        .bind(&channel.0)
                        .bind(date)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(found > 0)
            }
        }
    };
}

pub(super) use impl_digest_store;
