//! SQL for anomalies and alert events, shared by both stores like `sql.rs`.
//!
//! Writes are guarded by the anomaly's version (`WHERE version = $old`), so two writers that
//! read the same version cannot both apply a change; the loser's change is dropped and the next
//! run reconciles again from what is stored.

use anyhow::{Context, Result};

use crate::domain::incident::{Anomaly, Change, EventKind, Scope, Status};

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
        Scope::Organisation => (None, None),
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
                id: &$crate::domain::incident::AnomalyId,
                mark: $crate::domain::incident::AnomalyMark,
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<Option<$crate::domain::incident::Anomaly>> {
                use $crate::domain::incident::{AnomalyMark, EventKind, Mark};
                let mut tx = self.pool.begin().await?;
                let row: Option<String> = sqlx::query_scalar("SELECT record FROM anomalies WHERE id = $1")
                    .bind(&id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let mut anomaly = $crate::store::anomaly_sql::parse_record(&row)?;
                let (kind, actor) = match mark {
                    AnomalyMark::Acknowledge { by } => {
                        anomaly.acknowledged = Some(Mark { by: by.clone(), at: now });
                        (EventKind::Acknowledged, by)
                    }
                    AnomalyMark::Mute { by, until } => {
                        anomaly.muted_until = Some((Mark { by: by.clone(), at: now }, until));
                        (EventKind::Muted, by)
                    }
                };
                let from = i64::from(anomaly.version);
                anomaly.version += 1;
                let record = serde_json::to_string(&anomaly)?;
                let updated = sqlx::query("UPDATE anomalies SET version = $2, record = $3, updated_at = $4 WHERE id = $1 AND version = $5")
                    .bind(&id.0)
                    .bind(i64::from(anomaly.version))
                    .bind(&record)
                    .bind(now)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                anyhow::ensure!(updated == 1, "anomaly {id} changed while it was being marked; try again");
                record_event(&mut tx, &anomaly, kind, Some(&actor), now).await?;
                tx.commit().await?;
                Ok(Some(anomaly))
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
                let source: Option<String> = sqlx::query_scalar(
                    "SELECT source_account_id FROM cost_facts WHERE account_id = $1 ORDER BY period_start DESC LIMIT 1",
                )
                .bind(account.as_str())
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
