//! SQL for anomalies and alert events, shared by both stores like `sql.rs`.
//!
//! Writes are guarded by the anomaly's version (`WHERE version = $old`), so two writers that
//! read the same version cannot both apply a change; the loser's change is dropped and the next
//! run reconciles again from what is stored.

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::NaiveDateTime;

use crate::domain::audit::{AuditEntry, AuditRecord};
use crate::domain::feedback::Feedback;
use crate::domain::incident::{AlertEvent, AnomalyId, AnomalyMark};
use crate::domain::{AccountId, Granularity};

use crate::domain::incident::{Anomaly, Change, EventKind, Scope, Status};

/// Anomalies and their alert events.
#[async_trait]
pub trait AnomalyStore: Send + Sync {
    /// Open anomalies at a granularity, oldest first.
    async fn open_anomalies(&self, granularity: Granularity) -> Result<Vec<Anomaly>>;

    /// One anomaly by id.
    async fn anomaly(&self, id: &AnomalyId) -> Result<Option<Anomaly>>;

    /// The newest anomalies first, optionally only open ones.
    async fn anomalies(&self, open_only: bool, limit: u32) -> Result<Vec<Anomaly>>;

    /// Applies a run's changes in one transaction and records an alert event for each
    /// announced one. Applying the same changes twice records nothing new. Returns the number
    /// of events recorded.
    async fn apply_anomaly_changes(&self, changes: &[Change], now: NaiveDateTime) -> Result<u64>;

    /// Applies a person's mark (acknowledge, mute, feedback) if the anomaly is still at the
    /// version the change was made from, and in the same transaction records its alert event,
    /// its feedback row (for a verdict) and its audit record. `None` when someone changed the
    /// anomaly first (nothing was written); the anomaly as marked and the audit entry
    /// otherwise. A failing audit append rolls the mark back.
    async fn mark_anomaly(&self, change: &AnomalyMarkChange<'_>) -> Result<Option<(Anomaly, AuditEntry)>>;

    /// Every verdict given at or after `since`, oldest first (one per anomaly: a later verdict
    /// on the same anomaly replaces the earlier one).
    async fn anomaly_feedback(&self, since: NaiveDateTime) -> Result<Vec<Feedback>>;

    /// Alert events with an id greater than `after`, oldest first.
    async fn alert_events(&self, after: i64, limit: u32) -> Result<Vec<AlertEvent>>;

    /// The source account whose Cost Explorer data covers `account` (the one that delivered
    /// its newest fact), so a root-cause query goes to the right payer.
    async fn fact_source(&self, account: &AccountId) -> Result<Option<AccountId>>;
}

/// A person's mark on an anomaly with what records it: the changed anomaly, its alert event,
/// its feedback row and its audit record commit in one transaction, or none of them does.
#[derive(Debug, Clone)]
pub struct AnomalyMarkChange<'a> {
    /// The anomaly as it was read before deciding: the mark applies to this version only
    /// (compare-and-swap).
    pub anomaly: &'a Anomaly,
    /// What the person did.
    pub mark: AnomalyMark,
    /// The audit record of it.
    pub audit: AuditRecord,
    /// When.
    pub now: NaiveDateTime,
}

impl AnomalyMarkChange<'_> {
    /// The anomaly as the mark leaves it, and the event that announces it.
    pub fn next(&self) -> (Anomaly, crate::domain::incident::EventKind) {
        self.anomaly.marked(&self.mark, self.now)
    }

    /// The feedback row a verdict stores, if the mark is one.
    pub fn feedback(&self) -> Option<Feedback> {
        match &self.mark {
            AnomalyMark::Feedback { by, verdict } => Some(Feedback::on(self.anomaly, *verdict, by, self.now)),
            _ => None,
        }
    }
}

/// The columns queries filter on, derived from the record.
pub(super) struct Columns<'a> {
    pub granularity: &'static str,
    pub account: Option<&'a str>,
    pub service: Option<&'a str>,
    pub status: &'static str,
    pub version: i64,
    pub impact_units: i64,
    pub record: String,
}

pub(super) fn columns(anomaly: &Anomaly) -> Result<Columns<'_>> {
    let (account, service) = match &anomaly.key.scope {
        Scope::Organisation | Scope::Tag { .. } => (None, None),
        Scope::Account { account } => (Some(account.as_str()), None),
        Scope::Service { account, service } => (Some(account.as_str()), Some(service.as_str())),
    };
    Ok(Columns {
        granularity: anomaly.key.granularity.as_str(),
        account,
        service,
        status: match anomaly.status {
            Status::Open => "open",
            Status::Resolved => "resolved",
        },
        version: i64::from(anomaly.version),
        impact_units: super::sql::to_stored_units(anomaly.impact)?,
        record: serde_json::to_string(anomaly).context("cannot serialise an anomaly")?,
    })
}

pub(super) fn parse_feedback(text: &str) -> Result<crate::domain::feedback::Feedback> {
    serde_json::from_str(text).context("stored feedback record is unreadable")
}

/// Stores a verdict inside the caller's transaction; a later verdict on the same anomaly
/// replaces the earlier one (the audit log keeps both).
macro_rules! save_feedback {
    ($tx:ident, $feedback:ident) => {
        sqlx::query(
            "INSERT INTO anomaly_feedback (anomaly_id, granularity, account_id, verdict, actor, record, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (anomaly_id) DO UPDATE SET verdict = excluded.verdict, actor = excluded.actor,
                 record = excluded.record, created_at = excluded.created_at",
        )
        .bind(&$feedback.anomaly.0)
        .bind($feedback.key.granularity.as_str())
        .bind($feedback.key.account().map(|a| a.as_str().to_string()))
        .bind($feedback.verdict.as_str())
        .bind(&$feedback.by)
        .bind(serde_json::to_string(&$feedback)?)
        .bind($feedback.at)
        .execute(&mut *$tx)
        .await?
    };
}

pub(super) use save_feedback;

pub(super) fn parse_record(text: &str) -> Result<Anomaly> {
    serde_json::from_str(text).context("stored anomaly record is unreadable")
}

/// The event a change records, if any (a quiet extension records none).
pub(super) fn event_of(change: &Change) -> Option<(EventKind, &Anomaly)> {
    match change {
        Change::Opened(a) => Some((EventKind::Opened, a)),
        Change::Updated(a) => Some((EventKind::Updated, a)),
        Change::Resolved(a) => Some((EventKind::Resolved, a)),
        Change::Extended(_) => None,
    }
}

/// Implements `AnomalyStore` for a struct with a `pool` field.
macro_rules! impl_anomaly_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AnomalyStore for $store {
            async fn open_anomalies(
                &self,
                granularity: $crate::domain::Granularity,
            ) -> anyhow::Result<Vec<$crate::domain::incident::Anomaly>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT record FROM anomalies WHERE status = 'open' AND granularity = $1 ORDER BY period_start, id",
                )
                .bind(granularity.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| $crate::store::anomaly_sql::parse_record(r)).collect()
            }

            async fn anomaly(
                &self,
                id: &$crate::domain::incident::AnomalyId,
            ) -> anyhow::Result<Option<$crate::domain::incident::Anomaly>> {
                let row: Option<String> = sqlx::query_scalar("SELECT record FROM anomalies WHERE id = $1")
                    .bind(&id.0)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| $crate::store::anomaly_sql::parse_record(&r)).transpose()
            }

            async fn anomalies(&self, open_only: bool, limit: u32) -> anyhow::Result<Vec<$crate::domain::incident::Anomaly>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT record FROM anomalies WHERE ($1 = FALSE OR status = 'open')
                     ORDER BY period_start DESC, id LIMIT $2",
                )
                .bind(open_only)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| $crate::store::anomaly_sql::parse_record(r)).collect()
            }

            async fn apply_anomaly_changes(
                &self,
                changes: &[$crate::domain::incident::Change],
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<u64> {
                use $crate::domain::incident::Change;
                use $crate::store::anomaly_sql::{columns, event_of};
                let mut tx = self.pool.begin().await?;
                let mut events = 0u64;
                for change in changes {
                    let (Change::Opened(anomaly) | Change::Updated(anomaly) | Change::Extended(anomaly) | Change::Resolved(anomaly)) = change;
                    let c = columns(anomaly)?;
                    let applied = match change {
                        Change::Opened(_) => sqlx::query(
                            "INSERT INTO anomalies (id, granularity, account_id, service, status, version, period_start,
                             impact_units, record, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                             ON CONFLICT (id) DO NOTHING",
                        )
                        .bind(&anomaly.id.0)
                        .bind(c.granularity)
                        .bind(c.account)
                        .bind(c.service)
                        .bind(c.status)
                        .bind(c.version)
                        .bind(anomaly.start)
                        .bind(c.impact_units)
                        .bind(&c.record)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        _ => {
                            // The version the change was computed from: the same for a quiet
                            // extension, one less for an announced change.
                            let from = if matches!(change, Change::Extended(_)) { c.version } else { c.version - 1 };
                            sqlx::query(
                                "UPDATE anomalies SET status = $2, version = $3, impact_units = $4, record = $5,
                                 updated_at = $6 WHERE id = $1 AND version = $7 AND status = 'open'",
                            )
                            .bind(&anomaly.id.0)
                            .bind(c.status)
                            .bind(c.version)
                            .bind(c.impact_units)
                            .bind(&c.record)
                            .bind(now)
                            .bind(from)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                        }
                    };
                    if let (1, Some((kind, a))) = (applied, event_of(change)) {
                        events += record_event(&mut tx, a, kind, None, now).await?;
                    }
                }
                tx.commit().await?;
                Ok(events)
            }

            async fn mark_anomaly(
                &self,
                change: &$crate::store::AnomalyMarkChange<'_>,
            ) -> anyhow::Result<Option<($crate::domain::incident::Anomaly, $crate::domain::audit::AuditEntry)>> {
                let (next, kind) = change.next();
                // The compare-and-swap comes first, as for proposals: on SQLite it also takes
                // the writer lock before anything is read, and a lost race writes nothing.
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query(
                    "UPDATE anomalies SET version = $2, record = $3, updated_at = $4 WHERE id = $1 AND version = $5",
                )
                .bind(&next.id.0)
                .bind(i64::from(next.version))
                .bind(serde_json::to_string(&next)?)
                .bind(change.now)
                .bind(i64::from(change.anomaly.version))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated != 1 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                record_event(&mut tx, &next, kind, Some(change.mark.by()), change.now).await?;
                if let Some(feedback) = change.feedback() {
                    $crate::store::anomaly_sql::save_feedback!(tx, feedback);
                }
                let entry = append_audit_in(&mut tx, &change.audit).await?;
                tx.commit().await?;
                tracing::info!(audit_head = %entry.checkpoint(), "audit log appended");
                Ok(Some((next, entry)))
            }

            async fn anomaly_feedback(
                &self,
                since: chrono::NaiveDateTime,
            ) -> anyhow::Result<Vec<$crate::domain::feedback::Feedback>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT record FROM anomaly_feedback WHERE created_at >= $1 ORDER BY created_at, anomaly_id",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| $crate::store::anomaly_sql::parse_feedback(r)).collect()
            }

            async fn alert_events(&self, after: i64, limit: u32) -> anyhow::Result<Vec<$crate::domain::incident::AlertEvent>> {
                type Row = (i64, String, i64, String, Option<String>, chrono::NaiveDateTime);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT id, anomaly_id, version, event, actor, created_at FROM alert_events
                     WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, anomaly, version, event, actor, created_at)| {
                        Ok($crate::domain::incident::AlertEvent {
                            id,
                            anomaly: $crate::domain::incident::AnomalyId(anomaly),
                            version: u32::try_from(version)?,
                            kind: $crate::domain::incident::EventKind::parse(&event)
                                .ok_or_else(|| anyhow::anyhow!("unknown stored event `{event}`"))?,
                            actor,
                            created_at,
                        })
                    })
                    .collect()
            }

            async fn fact_source(&self, account: &$crate::domain::AccountId) -> anyhow::Result<Option<$crate::domain::AccountId>> {
                // The newest fact of each granularity is one step down the (granularity,
                // account_id, period_start) index; filtering on the account alone read every
                // fact it has (12,450 rows, 156 ms at 12 M facts), once per new anomaly.
                let source: Option<String> = sqlx::query_scalar(
                    "SELECT source_account_id FROM (
                       SELECT source_account_id, period_start FROM (
                         SELECT source_account_id, period_start FROM cost_facts
                         WHERE granularity = $2 AND account_id = $1 ORDER BY period_start DESC LIMIT 1) newest_daily
                       UNION ALL
                       SELECT source_account_id, period_start FROM (
                         SELECT source_account_id, period_start FROM cost_facts
                         WHERE granularity = $3 AND account_id = $1 ORDER BY period_start DESC LIMIT 1) newest_hourly
                     ) newest ORDER BY period_start DESC LIMIT 1",
                )
                .bind(account.as_str())
                .bind($crate::domain::Granularity::Daily.as_str())
                .bind($crate::domain::Granularity::Hourly.as_str())
                .fetch_optional(&self.pool)
                .await?;
                source.map(|s| Ok($crate::domain::AccountId::parse(&s)?)).transpose()
            }
        }

        async fn record_event(
            tx: &mut sqlx::Transaction<'_, $db>,
            anomaly: &$crate::domain::incident::Anomaly,
            kind: $crate::domain::incident::EventKind,
            actor: Option<&str>,
            now: chrono::NaiveDateTime,
        ) -> anyhow::Result<u64> {
            let result = sqlx::query(
                "INSERT INTO alert_events (anomaly_id, version, event, actor, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (anomaly_id, version, event) DO NOTHING",
            )
            .bind(&anomaly.id.0)
            .bind(i64::from(anomaly.version))
            .bind(kind.as_str())
            .bind(actor)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(result.rows_affected())
        }
    };
}

pub(super) use impl_anomaly_store;
