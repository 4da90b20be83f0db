//! SQL for replay protection, web sessions and the audit checkpoint, shared by both stores
//! like `sql.rs`.

use anyhow::Result;
use async_trait::async_trait;
use chrono::NaiveDateTime;

/// A web sign-in session. The cookie holds a random id; the store keeps only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// Who signed in.
    pub user: String,
    /// When.
    pub created_at: NaiveDateTime,
    /// When the session stops being accepted.
    pub expires_at: NaiveDateTime,
}

/// The last audit entry whose chain was verified: later checks start after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// Its sequence number.
    pub seq: i64,
    /// Its hash, which the next entry's `prev_hash` must equal.
    pub hash: String,
    /// When it was verified.
    pub verified_at: NaiveDateTime,
}

/// Access control every replica shares: signed requests already seen (replays), web
/// sessions, and how far the audit chain has been verified.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Remembers `key` (a Slack signature, a Discord interaction id) until `expires_at`.
    /// True the first time; false while it is remembered, on this replica or any other.
    async fn first_sighting(&self, key: &str, now: NaiveDateTime, expires_at: NaiveDateTime) -> Result<bool>;

    /// Stores a new session.
    async fn create_session(&self, session: &WebSession) -> Result<()>;

    /// The session with this id hash, if it is neither expired nor revoked at `now`.
    async fn live_session(&self, id_hash: &str, now: NaiveDateTime) -> Result<Option<WebSession>>;

    /// Revokes a session (signing out); an unknown id changes nothing.
    async fn revoke_session(&self, id_hash: &str) -> Result<()>;

    /// How far the audit chain has been verified, if at all.
    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>>;

    /// Moves the checkpoint forward (never back).
    async fn save_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<()>;
}

/// One request in this many sweeps expired request keys.
const SWEEP_EVERY: u64 = 64;

/// True for about one key in [`SWEEP_EVERY`]: the request that sweeps expired keys.
pub(super) fn sweeps(key: &str) -> bool {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish().is_multiple_of(SWEEP_EVERY)
}

/// Implements `AccessStore` for a struct with a `pool` field.
macro_rules! impl_access_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AccessStore for $store {
            async fn first_sighting(
                &self,
                key: &str,
                now: chrono::NaiveDateTime,
                expires_at: chrono::NaiveDateTime,
            ) -> anyhow::Result<bool> {
                // A key is claimed when it is new, or when its earlier sighting has expired (the
                // platform refuses such old requests anyway). One statement, so a request costs
                // one write; deleting every expired key first made it two (0.14 ms of the
                // database's time per slash command in the benchmark).
                let inserted = sqlx::query(
                    "INSERT INTO seen_requests (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE
                     SET expires_at = excluded.expires_at WHERE seen_requests.expires_at <= $3",
                )
                .bind(key)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
                // Expired keys are swept now and then, which keeps the table to a few
                // minutes of requests; which request sweeps is decided by its key's hash.
                if $crate::store::access_sql::sweeps(key) {
                    sqlx::query("DELETE FROM seen_requests WHERE expires_at <= $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(inserted == 1)
            }

            async fn create_session(&self, session: &$crate::store::WebSession) -> anyhow::Result<()> {
                sqlx::query(
                    "INSERT INTO web_sessions (id_hash, user_name, created_at, expires_at, revoked)
                     VALUES ($1, $2, $3, $4, FALSE)",
                )
                .bind(&session.id_hash)
                .bind(&session.user)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn live_session(
                &self,
                id_hash: &str,
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<Option<$crate::store::WebSession>> {
                let row: Option<(String, String, chrono::NaiveDateTime, chrono::NaiveDateTime)> = sqlx::query_as(
                    "SELECT id_hash, user_name, created_at, expires_at FROM web_sessions
                     WHERE id_hash = $1 AND NOT revoked AND expires_at > $2",
                )
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(id_hash, user, created_at, expires_at)| $crate::store::WebSession {
                    id_hash,
                    user,
                    created_at,
                    expires_at,
                }))
            }

            async fn revoke_session(&self, id_hash: &str) -> anyhow::Result<()> {
                sqlx::query("UPDATE web_sessions SET revoked = TRUE WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit_checkpoint(&self) -> anyhow::Result<Option<$crate::store::AuditCheckpoint>> {
                let row: Option<(i64, String, chrono::NaiveDateTime)> =
                    sqlx::query_as("SELECT seq, hash, verified_at FROM audit_checkpoints WHERE id = 1")
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(seq, hash, verified_at)| $crate::store::AuditCheckpoint { seq, hash, verified_at }))
            }

            async fn save_audit_checkpoint(&self, checkpoint: &$crate::store::AuditCheckpoint) -> anyhow::Result<()> {
                // Only forward: a slower replica that verified less must not move it back.
                sqlx::query(
                    "INSERT INTO audit_checkpoints (id, seq, hash, verified_at) VALUES (1, $1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
                     verified_at = excluded.verified_at WHERE audit_checkpoints.seq < excluded.seq",
                )
                .bind(checkpoint.seq)
                .bind(&checkpoint.hash)
                .bind(checkpoint.verified_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_access_store;
