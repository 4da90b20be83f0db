//! Usage-only spend per account and service (`usage_facts`), shared by both stores like
//! `sql.rs`. Detection scores it instead of the net facts, so credits, refunds, tax and
//! monthly fees do not look like anomalies; `/cost` keeps answering from the net facts.

use anyhow::Result;
use async_trait::async_trait;
use chrono::NaiveDateTime;

use super::{FactFilter, FactVisitor};
use crate::domain::{AccountId, CostFact, DateRange, Granularity};

/// Usage-only facts, beside the net cost facts.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Replaces, in one transaction, the usage `source` delivered for `range`, so a
    /// re-collected day replaces the old values. Returns the rows written.
    async fn replace_usage_facts(
        &self,
        source: &AccountId,
        granularity: Granularity,
        range: &DateRange,
        facts: &[CostFact],
        collected_at: NaiveDateTime,
    ) -> Result<u64>;

    /// The stored usage facts a filter selects, ordered by period, account and service.
    async fn usage_facts(&self, filter: &FactFilter) -> Result<Vec<CostFact>>;

    /// Streams the usage facts a filter selects to `visit`, in no particular order, without
    /// building them (see [`CostStore::visit_cost_facts`](super::CostStore::visit_cost_facts)).
    async fn visit_usage_facts(&self, filter: &FactFilter, visit: &mut FactVisitor<'_>) -> Result<u64>;
}

/// Implements `UsageStore` for a struct with a `pool` field.
macro_rules! impl_usage_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UsageStore for $store {
            async fn replace_usage_facts(
                &self,
                source: &$crate::domain::AccountId,
                granularity: $crate::domain::Granularity,
                range: &$crate::domain::DateRange,
                facts: &[$crate::domain::CostFact],
                collected_at: chrono::NaiveDateTime,
            ) -> anyhow::Result<u64> {
                use $crate::store::sql::{to_stored_units, INSERT_CHUNK};
                $crate::store::change_log::check_in_range(granularity, range, facts)?;
                let mut tx = self.pool.begin().await?;
                let mut seen = std::collections::BTreeSet::new();
                for fact in facts.iter().filter(|f| seen.insert(f.account.as_str())) {
                    sqlx::query(
                        "INSERT INTO accounts (id, name, configured, first_seen, updated_at)
                         VALUES ($1, NULL, FALSE, $2, $2) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(fact.account.as_str())
                    .bind(collected_at)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "DELETE FROM usage_facts WHERE source_account_id = $1 AND granularity = $2
                     AND period_start >= $3 AND period_start < $4",
                )
                .bind(source.as_str())
                .bind(granularity.as_str())
                .bind(range.start().and_hms_opt(0, 0, 0))
                .bind(range.end().and_hms_opt(0, 0, 0))
                .execute(&mut *tx)
                .await?;
                let mut written = 0;
                for chunk in facts.chunks(INSERT_CHUNK) {
                    let mut units = Vec::with_capacity(chunk.len());
                    for fact in chunk {
                        units.push(to_stored_units(fact.amount)?);
                    }
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO usage_facts (granularity, period_start, account_id, service, amount_units,
                         estimated, source_account_id, collected_at) ",
                    );
                    builder.push_values(chunk.iter().zip(&units), |mut b, (fact, units)| {
                        b.push_bind(granularity.as_str())
                            .push_bind(fact.period_start)
                            .push_bind(fact.account.as_str())
                            .push_bind(fact.service.as_str())
                            .push_bind(*units)
                            .push_bind(fact.estimated)
                            .push_bind(source.as_str())
                            .push_bind(collected_at);
                    });
                    builder.push(
                        " ON CONFLICT (granularity, period_start, account_id, service) DO UPDATE SET
                         amount_units = excluded.amount_units, estimated = excluded.estimated,
                         source_account_id = excluded.source_account_id, collected_at = excluded.collected_at",
                    );
                    written += builder.build().execute(&mut *tx).await?.rows_affected();
                }
                $crate::store::change_log::record_fact_change!(tx, granularity, range);
                tx.commit().await?;
                Ok(written)
            }

            async fn visit_usage_facts(
                &self,
                filter: &$crate::store::FactFilter,
                visit: &mut $crate::store::FactVisitor<'_>,
            ) -> anyhow::Result<u64> {
                self.visit_fact_table("usage_facts", filter, visit).await
            }

            async fn usage_facts(
                &self,
                filter: &$crate::store::FactFilter,
            ) -> anyhow::Result<Vec<$crate::domain::CostFact>> {
                let mut builder = sqlx::QueryBuilder::<$db>::new(
                    "SELECT period_start, account_id, service, amount_units, estimated FROM usage_facts",
                );
                push_filter(&mut builder, filter);
                builder.push(" ORDER BY period_start, account_id, service");
                let rows: Vec<(chrono::NaiveDateTime, String, String, i64, bool)> =
                    builder.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(period_start, account, service, units, estimated)| {
                        Ok($crate::domain::CostFact {
                            granularity: filter.granularity,
                            period_start,
                            account: $crate::domain::AccountId::parse(&account)?,
                            service: $crate::domain::ServiceName::parse(&service)?,
                            amount: $crate::domain::Money::from_units(i128::from(units)),
                            unit: "USD".to_string(),
                            estimated,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(super) use impl_usage_store;
