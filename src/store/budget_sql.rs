//! Budgets' amounts set from chat and the alerts that fired, shared by both stores like
//! `sql.rs`. A changed amount commits with its audit record; an alert's key row commits with
//! its outbox entries and its audit record, so each alert fires once.

use anyhow::Result;
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};

use crate::domain::audit::{AuditEntry, AuditRecord};
use crate::domain::budget::{BudgetAlert, BudgetName};
use crate::domain::outbox::OutboxEntry;
use crate::domain::Money;

/// A budget's monthly amount as an approver set it from chat (it wins over the file's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetAmount {
    /// The budget.
    pub budget: BudgetName,
    /// The monthly amount.
    pub amount: Money,
    /// Who set it (`person:ana`, `slack:U1`).
    pub set_by: String,
    /// When.
    pub set_at: NaiveDateTime,
}

/// A budget alert that fired (or a lower threshold passed with one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredBudgetAlert {
    /// Its key, `budget:<name>:<yyyy-mm>:<threshold|forecast>`.
    pub key: String,
    /// The budget.
    pub budget: BudgetName,
    /// The first day of the month it is for.
    pub month: NaiveDate,
    /// The threshold (`80`) or `forecast`.
    pub kind: String,
    /// True when it was announced; false for a lower threshold passed with a higher one.
    pub alerted: bool,
    /// When it fired.
    pub fired_at: NaiveDateTime,
}

/// Budget amounts and budget alerts.
#[async_trait]
pub trait BudgetStore: Send + Sync {
    /// Sets (or replaces) a budget's amount, with its audit record, in one transaction.
    async fn set_budget_amount(&self, amount: &BudgetAmount, audit: &AuditRecord) -> Result<AuditEntry>;

    /// Every amount set from chat, by budget name.
    async fn budget_amounts(&self) -> Result<Vec<BudgetAmount>>;

    /// Claims an alert's key (and the keys it passed), queues its messages and appends its
    /// audit record, in one transaction. `false`, with nothing written, when the key was
    /// claimed before (by this replica, another, or before a restart).
    async fn record_budget_alert(
        &self,
        budget: &BudgetName,
        month: NaiveDate,
        alert: &BudgetAlert,
        entries: &[OutboxEntry],
        audit: &AuditRecord,
    ) -> Result<bool>;

    /// The alerts fired for a month, oldest first.
    async fn budget_alerts(&self, month: NaiveDate) -> Result<Vec<FiredBudgetAlert>>;
}

/// The last part of an alert key: the threshold or `forecast`.
pub(super) fn key_kind(key: &str) -> &str {
    key.rsplit(':').next().unwrap_or(key)
}

/// Implements `BudgetStore` for a struct with a `pool` field. Must be expanded next to
/// `impl_outbox_store!` and `impl_audit_store!`, whose `enqueue_in` and `append_audit_in` it
/// uses.
macro_rules! impl_budget_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::BudgetStore for $store {
            async fn set_budget_amount(
                &self,
                amount: &$crate::store::BudgetAmount,
                audit: &$crate::domain::audit::AuditRecord,
            ) -> anyhow::Result<$crate::domain::audit::AuditEntry> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO budget_amounts (budget, amount, set_by, set_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (budget) DO UPDATE SET amount = excluded.amount, set_by = excluded.set_by,
                         set_at = excluded.set_at",
                )
                .bind(amount.budget.as_str())
                .bind(amount.amount.as_decimal().to_string())
                .bind(&amount.set_by)
                .bind(amount.set_at)
                .execute(&mut *tx)
                .await?;
                let entry = append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(entry)
            }

            async fn budget_amounts(&self) -> anyhow::Result<Vec<$crate::store::BudgetAmount>> {
                let rows: Vec<(String, String, String, chrono::NaiveDateTime)> =
                    sqlx::query_as("SELECT budget, amount, set_by, set_at FROM budget_amounts ORDER BY budget")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map(|(budget, amount, set_by, set_at)| {
                        Ok($crate::store::BudgetAmount {
                            budget: $crate::domain::budget::BudgetName::parse(&budget)?,
                            amount: $crate::domain::Money::parse(&amount)?,
                            set_by,
                            set_at,
                        })
                    })
                    .collect()
            }

            async fn record_budget_alert(
                &self,
                budget: &$crate::domain::budget::BudgetName,
                month: chrono::NaiveDate,
                alert: &$crate::domain::budget::BudgetAlert,
                entries: &[$crate::domain::outbox::OutboxEntry],
                audit: &$crate::domain::audit::AuditRecord,
            ) -> anyhow::Result<bool> {
                let insert = "INSERT INTO budget_alerts (alert_key, budget, month, kind, alerted, fired_at)
                              VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (alert_key) DO NOTHING";
                let mut tx = self.pool.begin().await?;
                let claimed = sqlx::query(insert)
                    .bind(&alert.key)
                    .bind(budget.as_str())
                    .bind(month)
                    .bind(alert.kind.as_key_part())
                    .bind(true)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if claimed == 0 {
                    // Dropping the transaction rolls it back: the alert fired before.
                    return Ok(false);
                }
                for key in &alert.passed {
                    sqlx::query(insert)
                        .bind(key)
                        .bind(budget.as_str())
                        .bind(month)
                        .bind($crate::store::budget_sql::key_kind(key))
                        .bind(false)
                        .bind(audit.at)
                        .execute(&mut *tx)
                        .await?;
                }
                enqueue_in(&mut tx, entries, audit.at).await?;
                append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn budget_alerts(
                &self,
                month: chrono::NaiveDate,
            ) -> anyhow::Result<Vec<$crate::store::FiredBudgetAlert>> {
                type Row = (String, String, chrono::NaiveDate, String, bool, chrono::NaiveDateTime);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT alert_key, budget, month, kind, alerted, fired_at FROM budget_alerts WHERE month = $1
                     ORDER BY fired_at, alert_key",
                )
                .bind(month)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(key, budget, month, kind, alerted, fired_at)| {
                        Ok($crate::store::FiredBudgetAlert {
                            key,
                            budget: $crate::domain::budget::BudgetName::parse(&budget)?,
                            month,
                            kind,
                            alerted,
                            fired_at,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(super) use impl_budget_store;
