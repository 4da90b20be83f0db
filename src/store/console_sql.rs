//! SQL for the chat console's channel view, shared by both stores like `sql.rs`.
//!
//! Every post and edit takes the next change number from the single `console_seq` row in the
//! same transaction as the write. That row stays locked until the transaction commits, so
//! changes commit in `seq` order and a reader asking for "changes after N" never misses one
//! that commits later with a smaller number.

/// Implements `ConsoleStore` for a struct with a `pool` field.
macro_rules! impl_console_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ConsoleStore for $store {
            async fn post_console_message(
                &self,
                post: &$crate::domain::console::ConsolePost,
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<$crate::domain::console::ConsoleMessage> {
                use chrono::SubsecRound;
                // Postgres keeps microseconds; return exactly what will be read back.
                let now = now.trunc_subsecs(6);
                let json = $crate::store::record::message::encode_message(&post.message)?;
                let mut tx = self.pool.begin().await?;
                let seq: i64 = sqlx::query_scalar("UPDATE console_seq SET value = value + 1 WHERE id = 1 RETURNING value")
                    .fetch_one(&mut *tx)
                    .await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO console_messages (channel_id, author, visible_to, message, seq, posted_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                )
                .bind(&post.channel.0)
                .bind(post.author.as_ref().map(|u| u.0.as_str()))
                .bind(post.visible_to.as_ref().map(|u| u.0.as_str()))
                .bind(&json)
                .bind(seq)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::domain::console::ConsoleMessage {
                    id,
                    seq,
                    channel: post.channel.clone(),
                    author: post.author.clone(),
                    visible_to: post.visible_to.clone(),
                    message: post.message.clone(),
                    posted_at: now,
                    updated_at: now,
                })
            }

            async fn update_console_message(
                &self,
                channel: &$crate::domain::chat::ChannelId,
                id: i64,
                message: &$crate::domain::chat::message::Message,
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<bool> {
                use chrono::SubsecRound;
                let json = $crate::store::record::message::encode_message(message)?;
                let mut tx = self.pool.begin().await?;
                let seq: i64 = sqlx::query_scalar("UPDATE console_seq SET value = value + 1 WHERE id = 1 RETURNING value")
                    .fetch_one(&mut *tx)
                    .await?;
                let changed = sqlx::query(
                    "UPDATE console_messages SET message = $1, seq = $2, updated_at = $3 WHERE id = $4 AND channel_id = $5",
                )
                .bind(&json)
                .bind(seq)
                .bind(now.trunc_subsecs(6))
                .bind(id)
                .bind(&channel.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    // Nothing to edit: give the change number back by not committing.
                    tx.rollback().await?;
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn console_message(&self, id: i64) -> anyhow::Result<Option<$crate::domain::console::ConsoleMessage>> {
                let row: Option<ConsoleRow> = sqlx::query_as(
                    "SELECT id, seq, channel_id, author, visible_to, message, posted_at, updated_at
                     FROM console_messages WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(console_from_row).transpose()
            }

            async fn console_messages(
                &self,
                channel: &$crate::domain::chat::ChannelId,
                viewer: &$crate::domain::chat::UserId,
                after: i64,
                limit: u32,
            ) -> anyhow::Result<Vec<$crate::domain::console::ConsoleMessage>> {
                // The newest `limit` changes, returned oldest first.
                let mut rows: Vec<ConsoleRow> = sqlx::query_as(
                    "SELECT id, seq, channel_id, author, visible_to, message, posted_at, updated_at
                     FROM console_messages WHERE channel_id = $1 AND seq > $2 AND (visible_to IS NULL OR visible_to = $3)
                     ORDER BY seq DESC LIMIT $4",
                )
                .bind(&channel.0)
                .bind(after)
                .bind(&viewer.0)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.reverse();
                rows.into_iter().map(console_from_row).collect()
            }
        }

        type ConsoleRow = (i64, i64, String, Option<String>, Option<String>, String, chrono::NaiveDateTime, chrono::NaiveDateTime);

        fn console_from_row(row: ConsoleRow) -> anyhow::Result<$crate::domain::console::ConsoleMessage> {
            use anyhow::Context as _;
            let (id, seq, channel, author, visible_to, message, posted_at, updated_at) = row;
            Ok($crate::domain::console::ConsoleMessage {
                id,
                seq,
                channel: $crate::domain::chat::ChannelId(channel),
                author: author.map($crate::domain::chat::UserId),
                visible_to: visible_to.map($crate::domain::chat::UserId),
                message: $crate::store::record::message::decode_message(&message).with_context(|| format!("console message {id} is not a stored message"))?,
                posted_at,
                updated_at,
            })
        }
    };
}

pub(super) use impl_console_store;
