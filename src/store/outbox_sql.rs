//! SQL for the outbox and event cursors, shared by both stores like `sql.rs`.

use anyhow::{Context, Result};

use crate::domain::chat::Platform;

pub(super) fn parse_platform(text: &str) -> Result<Platform> {
    [Platform::Slack, Platform::Discord, Platform::Console]
        .into_iter()
        .find(|p| p.as_str() == text)
        .with_context(|| format!("unknown stored platform `{text}`"))
}

/// Postgres: a thread lease's end, `$4` seconds from the database's now.
pub(super) const PG_LOCKED_UNTIL: &str = "((now() AT TIME ZONE 'UTC') + make_interval(secs => $4))";
/// SQLite: the same, in the text form its timestamps compare in.
pub(super) const SQLITE_LOCKED_UNTIL: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || $4 || ' seconds')";

/// A lease length as the statements bind it: seconds.
pub(super) fn seconds(lease: chrono::Duration) -> f64 {
    lease.num_milliseconds() as f64 / 1000.0
}

/// Implements `OutboxStore` for a struct with a `pool` field, given the dialect's expression
/// for the database's current time.
macro_rules! impl_outbox_store {
    ($store:ty, $db:ty, $now:expr, $locked_until:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::OutboxStore for $store {
            async fn enqueue(&self, entries: &[$crate::domain::outbox::OutboxEntry], now: chrono::NaiveDateTime) -> anyhow::Result<u64> {
                let mut tx = self.pool.begin().await?;
                let inserted = enqueue_in(&mut tx, entries, now).await?;
                tx.commit().await?;
                Ok(inserted)
            }

            async fn thread_message(
                &self,
                platform: $crate::domain::chat::Platform,
                channel: &$crate::domain::chat::ChannelId,
                thread: &str,
            ) -> anyhow::Result<Option<String>> {
                let id: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT message_id FROM chat_threads WHERE platform = $1 AND channel_id = $2 AND thread_key = $3",
                )
                .bind(platform.as_str())
                .bind(&channel.0)
                .bind(thread)
                .fetch_optional(&self.pool)
                .await?;
                Ok(id.flatten())
            }

            async fn claim_delivery(
                &self,
                now: chrono::NaiveDateTime,
                lease: chrono::Duration,
            ) -> anyhow::Result<Option<$crate::domain::outbox::Delivery>> {
                type Thread = (String, String, String);
                let due: Vec<Thread> = sqlx::query_as(
                    "SELECT platform, channel_id, thread_key FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
                     GROUP BY platform, channel_id, thread_key ORDER BY MIN(id) LIMIT 20",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                // The lease is taken and tested on the database's clock, at the moment of each
                // claim: a replica whose clock is off, or whose drain started long ago, cannot
                // take a lease that has in truth already run out.
                let sql = $crate::store::lease_sql::dialect(
                    "UPDATE chat_threads SET locked_until = {expiry}, lock_token = $5 WHERE platform = $1
                     AND channel_id = $2 AND thread_key = $3 AND (locked_until IS NULL OR locked_until < {now})",
                    $now,
                    $locked_until,
                );
                for (platform, channel, thread) in due {
                    // Take the thread's lease with a token of our own; another replica holding
                    // it means it is busy.
                    let token = uuid::Uuid::new_v4().to_string();
                    let locked = sqlx::query(&sql)
                        .bind(&platform)
                        .bind(&channel)
                        .bind(&thread)
                        .bind($crate::store::outbox_sql::seconds(lease))
                        .bind(&token)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    if locked != 1 {
                        continue;
                    }
                    let key = (platform.as_str(), channel.as_str(), thread.as_str());
                    if let Some(delivery) = take_newest(&self.pool, key, &token, now).await? {
                        return Ok(Some(delivery));
                    }
                    let mut tx = self.pool.begin().await?;
                    release(&mut tx, key, &token, None).await?;
                    tx.commit().await?;
                }
                Ok(None)
            }

            async fn finish_delivery(
                &self,
                delivery: &$crate::domain::outbox::Delivery,
                outcome: &$crate::domain::outbox::DeliveryOutcome,
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<$crate::domain::outbox::Finish> {
                use $crate::domain::outbox::{DeliveryOutcome, Finish};
                let (status, next, error, sent_at, message_id) = match outcome {
                    DeliveryOutcome::Sent { message_id } => ("sent", now, None, Some(now), Some(message_id.as_str())),
                    DeliveryOutcome::Retry { at, error } => ("pending", *at, Some(error.as_str()), None, None),
                    DeliveryOutcome::Failed { error } => ("failed", now, Some(error.as_str()), None, None),
                };
                let key = (delivery.platform.as_str(), delivery.channel.0.as_str(), delivery.thread.as_str());
                // The lease is released first and only with the caller's token; the outcome is
                // recorded in the same transaction, so a worker whose lease was taken over
                // changes neither the new holder's lease nor the entry it may be delivering.
                let mut tx = self.pool.begin().await?;
                if !release(&mut tx, key, &delivery.lock, message_id).await? {
                    // Its post's id is still worth keeping when the thread has none, so a
                    // later delivery edits that message rather than posting another.
                    if let Some(message_id) = message_id {
                        sqlx::query(
                            "UPDATE chat_threads SET message_id = $4 WHERE platform = $1 AND channel_id = $2
                             AND thread_key = $3 AND message_id IS NULL",
                        )
                        .bind(key.0)
                        .bind(key.1)
                        .bind(key.2)
                        .bind(message_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    return Ok(Finish::LeaseLost);
                }
                sqlx::query(
                    "UPDATE outbox SET status = $2, attempts = attempts + 1, next_attempt_at = $3, last_error = $4,
                     sent_at = $5 WHERE id = $1",
                )
                .bind(delivery.id)
                .bind(status)
                .bind(next)
                .bind(error)
                .bind(sent_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Finish::Recorded)
            }

            async fn outbox_counts(&self) -> anyhow::Result<$crate::domain::outbox::OutboxCounts> {
                let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
                    .fetch_all(&self.pool)
                    .await?;
                let mut counts = $crate::domain::outbox::OutboxCounts::default();
                for (status, n) in rows {
                    let n = u64::try_from(n).unwrap_or_default();
                    match status.as_str() {
                        "pending" => counts.pending = n,
                        "sent" => counts.sent = n,
                        "failed" => counts.failed = n,
                        _ => counts.superseded = n,
                    }
                }
                Ok(counts)
            }

            async fn cursor(&self, name: &str) -> anyhow::Result<i64> {
                let position: Option<i64> = sqlx::query_scalar("SELECT position FROM cursors WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(position.unwrap_or(0))
            }

            async fn set_cursor(&self, name: &str, position: i64) -> anyhow::Result<()> {
                sqlx::query(
                    "INSERT INTO cursors (name, position) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                )
                .bind(name)
                .bind(position)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }

        /// Writes outbox entries inside the caller's transaction, so a record that causes a
        /// message (a digest) and the message itself are stored together or not at all.
        async fn enqueue_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            entries: &[$crate::domain::outbox::OutboxEntry],
            now: chrono::NaiveDateTime,
        ) -> anyhow::Result<u64> {
            let mut inserted = 0;
            for e in entries {
                sqlx::query(
                    "INSERT INTO chat_threads (platform, channel_id, thread_key) VALUES ($1, $2, $3)
                     ON CONFLICT (platform, channel_id, thread_key) DO NOTHING",
                )
                .bind(e.platform.as_str())
                .bind(&e.channel.0)
                .bind(&e.thread)
                .execute(&mut **tx)
                .await?;
                inserted += sqlx::query(
                    "INSERT INTO outbox (dedupe_key, platform, channel_id, thread_key, message, status, next_attempt_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) ON CONFLICT (dedupe_key) DO NOTHING",
                )
                .bind(&e.dedupe_key)
                .bind(e.platform.as_str())
                .bind(&e.channel.0)
                .bind(&e.thread)
                .bind($crate::store::record::message::encode_message(&e.message)?)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            }
            Ok(inserted)
        }

        /// Picks a locked thread's newest pending content (if due) and supersedes older
        /// pending content: only the latest state of a card is worth sending.
        async fn take_newest(
            pool: &sqlx::Pool<$db>,
            (platform, channel, thread): (&str, &str, &str),
            lock: &str,
            now: chrono::NaiveDateTime,
        ) -> anyhow::Result<Option<$crate::domain::outbox::Delivery>> {
            let newest: Option<(i64, String, i64, chrono::NaiveDateTime)> = sqlx::query_as(
                "SELECT id, message, attempts, next_attempt_at FROM outbox WHERE platform = $1 AND channel_id = $2
                 AND thread_key = $3 AND status = 'pending' ORDER BY id DESC LIMIT 1",
            )
            .bind(platform)
            .bind(channel)
            .bind(thread)
            .fetch_optional(pool)
            .await?;
            let Some((id, message, attempts, due)) = newest else { return Ok(None) };
            if due > now {
                return Ok(None);
            }
            sqlx::query(
                "UPDATE outbox SET status = 'superseded' WHERE platform = $1 AND channel_id = $2 AND thread_key = $3
                 AND status = 'pending' AND id < $4",
            )
            .bind(platform)
            .bind(channel)
            .bind(thread)
            .bind(id)
            .execute(pool)
            .await?;
            let (posted, started): (Option<String>, Option<chrono::NaiveDateTime>) = sqlx::query_as(
                "SELECT message_id, post_started_at FROM chat_threads WHERE platform = $1 AND channel_id = $2 AND thread_key = $3",
            )
            .bind(platform)
            .bind(channel)
            .bind(thread)
            .fetch_optional(pool)
            .await?
            .unwrap_or_default();
            // A reply whose card has no message yet cannot be posted by this try (the worker
            // waits for the card), so it is not marked as possibly posted: otherwise the next
            // try would search the channel for a post that never happened.
            let parent_missing = match $crate::domain::outbox::reply_parent(thread) {
                Some(parent) => {
                    let id: Option<Option<String>> = sqlx::query_scalar(
                        "SELECT message_id FROM chat_threads WHERE platform = $1 AND channel_id = $2 AND thread_key = $3",
                    )
                    .bind(platform)
                    .bind(channel)
                    .bind(parent)
                    .fetch_optional(pool)
                    .await?;
                    id.flatten().is_none()
                }
                None => false,
            };
            if posted.is_none() && started.is_none() && !parent_missing {
                sqlx::query(
                    "UPDATE chat_threads SET post_started_at = $4 WHERE platform = $1 AND channel_id = $2 AND thread_key = $3",
                )
                .bind(platform)
                .bind(channel)
                .bind(thread)
                .bind(now)
                .execute(pool)
                .await?;
            }
            Ok(Some($crate::domain::outbox::Delivery {
                id,
                platform: $crate::store::outbox_sql::parse_platform(platform)?,
                channel: $crate::domain::chat::ChannelId(channel.to_string()),
                thread: thread.to_string(),
                message: anyhow::Context::with_context($crate::store::record::message::decode_message(&message), || {
                    format!("outbox entry {id} is not a stored message")
                })?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                maybe_posted: posted.is_none() && started.is_some(),
                posted,
                lock: lock.to_string(),
            }))
        }

        /// Releases a thread's lease if `token` still holds it, recording the posted message
        /// id if there is a new one; false (and nothing written) when another claim has
        /// taken the lease since.
        async fn release(
            tx: &mut sqlx::Transaction<'_, $db>,
            (platform, channel, thread): (&str, &str, &str),
            token: &str,
            message_id: Option<&str>,
        ) -> anyhow::Result<bool> {
            let released = sqlx::query(
                "UPDATE chat_threads SET locked_until = NULL, lock_token = NULL, message_id = COALESCE($4, message_id)
                 WHERE platform = $1 AND channel_id = $2 AND thread_key = $3 AND lock_token = $5",
            )
            .bind(platform)
            .bind(channel)
            .bind(thread)
            .bind(message_id)
            .bind(token)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            Ok(released == 1)
        }
    };
}

pub(super) use impl_outbox_store;
