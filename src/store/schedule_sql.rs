//! Pauses of off-hours schedules, shared by both stores like `sql.rs`. A pause and its audit
//! record commit in one transaction.

use anyhow::Result;
use async_trait::async_trait;
use chrono::NaiveDateTime;

use crate::domain::audit::{AuditEntry, AuditRecord};

/// A paused schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulePause {
    /// The schedule (its proposal's id).
    pub schedule: String,
    /// Until when; `None` until someone resumes it.
    pub until: Option<NaiveDateTime>,
    /// Who paused it (`person:ana`, `slack:U1`).
    pub by: String,
    /// When.
    pub at: NaiveDateTime,
}

impl SchedulePause {
    /// True while it holds at `at`.
    pub fn holds_at(&self, at: NaiveDateTime) -> bool {
        self.until.is_none_or(|until| at < until)
    }
}

/// Pausing and resuming off-hours schedules.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Pauses a schedule (replacing an earlier pause), with its audit record, in one
    /// transaction.
    async fn pause_schedule(&self, pause: &SchedulePause, audit: &AuditRecord) -> Result<AuditEntry>;

    /// Resumes a schedule, with its audit record, in one transaction; `None` (and nothing
    /// recorded) when it was not paused.
    async fn resume_schedule(&self, schedule: &str, audit: &AuditRecord) -> Result<Option<AuditEntry>>;

    /// Every pause, expired ones included (they are harmless, and show who paused last).
    async fn schedule_pauses(&self) -> Result<Vec<SchedulePause>>;
}

/// Implements `ScheduleStore` for a struct with a `pool` field, in a module that also has the
/// store's `append_audit_in`.
macro_rules! impl_schedule_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ScheduleStore for $store {
            async fn pause_schedule(
                &self,
                pause: &$crate::store::SchedulePause,
                audit: &$crate::domain::audit::AuditRecord,
            ) -> anyhow::Result<$crate::domain::audit::AuditEntry> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO offhours_pauses (schedule_id, paused_until, paused_by, paused_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (schedule_id) DO UPDATE SET paused_until = excluded.paused_until,
                         paused_by = excluded.paused_by, paused_at = excluded.paused_at",
                )
                .bind(&pause.schedule)
                .bind(pause.until)
                .bind(&pause.by)
                .bind(pause.at)
                .execute(&mut *tx)
                .await?;
                let entry = append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(entry)
            }

            async fn resume_schedule(
                &self,
                schedule: &str,
                audit: &$crate::domain::audit::AuditRecord,
            ) -> anyhow::Result<Option<$crate::domain::audit::AuditEntry>> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM offhours_pauses WHERE schedule_id = $1")
                    .bind(schedule)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    return Ok(None);
                }
                let entry = append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(Some(entry))
            }

            async fn schedule_pauses(&self) -> anyhow::Result<Vec<$crate::store::SchedulePause>> {
                let rows: Vec<(String, Option<chrono::NaiveDateTime>, String, chrono::NaiveDateTime)> = sqlx::query_as(
                    "SELECT schedule_id, paused_until, paused_by, paused_at FROM offhours_pauses ORDER BY schedule_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(schedule, until, by, at)| $crate::store::SchedulePause { schedule, until, by, at })
                    .collect())
            }
        }
    };
}

pub(super) use impl_schedule_store;
