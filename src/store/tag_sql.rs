//! Spend by cost allocation tag and cost category (`cost_tags`), shared by both stores like
//! `sql.rs`. Each key's rows come from their own Cost Explorer query (LINKED_ACCOUNT × the
//! key), so they are exact per account and value, and a key's values add up to the facts.

use anyhow::Result;
use async_trait::async_trait;
use chrono::NaiveDateTime;

use super::{SpendQuery, SpendRow};
use crate::domain::tags::{TagFact, TagKey};
use crate::domain::{AccountId, DateRange, Granularity};

/// A spend question over one tag key: the usual period and accounts, and optionally only
/// some of the key's values. Service filters do not apply (tag spend is per account).
#[derive(Debug, Clone)]
pub struct TagQuery {
    /// Granularity, range and accounts (its `services` must be `None`).
    pub spend: SpendQuery,
    /// The tag key or cost category.
    pub key: TagKey,
    /// Only these values (`""` is untagged); `None` means every value, untagged included.
    pub values: Option<Vec<String>>,
}

/// How tag spend is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagGroup {
    /// One row per period: the total.
    Total,
    /// One row per account.
    Account,
    /// One row per value of the key (`""` for untagged).
    Value,
}

/// Spend by tag value, beside the cost facts.
#[async_trait]
pub trait TagStore: Send + Sync {
    /// Replaces, in one transaction, what `source` delivered for `range` under one key, so a
    /// re-collected day replaces the old values (a value no longer reported is removed).
    /// Returns the rows written.
    async fn replace_tag_facts(
        &self,
        source: &AccountId,
        granularity: Granularity,
        key: &TagKey,
        range: &DateRange,
        rows: &[TagFact],
        collected_at: NaiveDateTime,
    ) -> Result<u64>;

    /// When this source's spend under a key was last written.
    async fn last_tags_at(&self, source: &AccountId, key: &TagKey) -> Result<Option<NaiveDateTime>>;

    /// Spend per period and group, summed in SQL: `(period_start, row)`.
    async fn tag_matrix(&self, query: &TagQuery, group: TagGroup) -> Result<Vec<(NaiveDateTime, SpendRow)>>;

    /// The stored rows a query selects, ordered by period, account and value.
    async fn tag_facts(&self, query: &TagQuery) -> Result<Vec<TagFact>>;
}

/// Implements `TagStore` for a struct with a `pool` field.
macro_rules! impl_tag_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::TagStore for $store {
            async fn replace_tag_facts(
                &self,
                source: &$crate::domain::AccountId,
                granularity: $crate::domain::Granularity,
                key: &$crate::domain::tags::TagKey,
                range: &$crate::domain::DateRange,
                rows: &[$crate::domain::tags::TagFact],
                collected_at: chrono::NaiveDateTime,
            ) -> anyhow::Result<u64> {
                use $crate::store::sql::{to_stored_units, INSERT_CHUNK};
                let mut tx = self.pool.begin().await?;
                let mut seen = std::collections::BTreeSet::new();
                for row in rows.iter().filter(|r| seen.insert(r.account.as_str())) {
                    sqlx::query(
                        "INSERT INTO accounts (id, name, configured, first_seen, updated_at)
                         VALUES ($1, NULL, FALSE, $2, $2) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(row.account.as_str())
                    .bind(collected_at)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "DELETE FROM cost_tags WHERE source_account_id = $1 AND granularity = $2 AND kind = $3
                     AND tag_key = $4 AND period_start >= $5 AND period_start < $6",
                )
                .bind(source.as_str())
                .bind(granularity.as_str())
                .bind(key.kind.as_str())
                .bind(key.name.as_str())
                .bind(range.start().and_hms_opt(0, 0, 0))
                .bind(range.end().and_hms_opt(0, 0, 0))
                .execute(&mut *tx)
                .await?;
                let mut written = 0;
                for chunk in rows.chunks(INSERT_CHUNK / 2) {
                    let mut units = Vec::with_capacity(chunk.len());
                    for row in chunk {
                        units.push(to_stored_units(row.amount)?);
                    }
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO cost_tags (granularity, period_start, account_id, kind, tag_key, value,
                         amount_units, estimated, source_account_id, collected_at) ",
                    );
                    builder.push_values(chunk.iter().zip(&units), |mut b, (row, units)| {
                        b.push_bind(granularity.as_str())
                            .push_bind(row.period_start)
                            .push_bind(row.account.as_str())
                            .push_bind(key.kind.as_str())
                            .push_bind(key.name.as_str())
                            .push_bind(row.value.as_str())
                            .push_bind(*units)
                            .push_bind(row.estimated)
                            .push_bind(source.as_str())
                            .push_bind(collected_at);
                    });
                    builder.push(
                        " ON CONFLICT (granularity, kind, tag_key, period_start, account_id, value) DO UPDATE SET
                         amount_units = excluded.amount_units, estimated = excluded.estimated,
                         source_account_id = excluded.source_account_id, collected_at = excluded.collected_at",
                    );
                    written += builder.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn last_tags_at(
                &self,
                source: &$crate::domain::AccountId,
                key: &$crate::domain::tags::TagKey,
            ) -> anyhow::Result<Option<chrono::NaiveDateTime>> {
                Ok(sqlx::query_scalar(
                    "SELECT MAX(collected_at) FROM cost_tags WHERE source_account_id = $1 AND kind = $2 AND tag_key = $3",
                )
                .bind(source.as_str())
                .bind(key.kind.as_str())
                .bind(key.name.as_str())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn tag_matrix(
                &self,
                query: &$crate::store::TagQuery,
                group: $crate::store::TagGroup,
            ) -> anyhow::Result<Vec<(chrono::NaiveDateTime, $crate::store::SpendRow)>> {
                use $crate::store::TagGroup;
                let key = match group {
                    TagGroup::Total => "''",
                    TagGroup::Account => "account_id",
                    TagGroup::Value => "value",
                };
                let mut builder = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT period_start, {key}, CAST(SUM(amount_units) AS TEXT),
                     CAST(MAX(CASE WHEN estimated THEN 1 ELSE 0 END) AS BIGINT) FROM cost_tags"
                ));
                push_tag_filter(&mut builder, query);
                // Postgres refuses a constant in GROUP BY, so a total groups by period alone.
                builder.push(if group == TagGroup::Total {
                    " GROUP BY period_start".to_string()
                } else {
                    format!(" GROUP BY period_start, {key}")
                });
                let rows: Vec<(chrono::NaiveDateTime, String, String, i64)> =
                    builder.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(at, key, sum, estimated)| {
                        let amount = $crate::store::sql::parse_units_sum(&sum)?;
                        Ok((at, $crate::store::SpendRow { key, amount, estimated: estimated != 0 }))
                    })
                    .collect()
            }

            async fn tag_facts(
                &self,
                query: &$crate::store::TagQuery,
            ) -> anyhow::Result<Vec<$crate::domain::tags::TagFact>> {
                let mut builder = sqlx::QueryBuilder::<$db>::new(
                    "SELECT period_start, account_id, value, CAST(amount_units AS TEXT), estimated FROM cost_tags",
                );
                push_tag_filter(&mut builder, query);
                builder.push(" ORDER BY period_start, account_id, value");
                let rows: Vec<(chrono::NaiveDateTime, String, String, String, bool)> =
                    builder.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(period_start, account, value, units, estimated)| {
                        Ok($crate::domain::tags::TagFact {
                            granularity: query.spend.granularity,
                            period_start,
                            account: $crate::domain::AccountId::parse(&account)?,
                            key: query.key.clone(),
                            value,
                            amount: $crate::store::sql::parse_units_sum(&units)?,
                            estimated,
                        })
                    })
                    .collect()
            }
        }

        /// The WHERE clause of a tag query: the facts' filter, the key, and the values.
        fn push_tag_filter(builder: &mut sqlx::QueryBuilder<'_, $db>, query: &$crate::store::TagQuery) {
            let facts = $crate::store::FactFilter {
                granularity: query.spend.granularity,
                range: query.spend.range,
                accounts: query.spend.accounts.clone(),
            };
            push_filter(builder, &facts);
            builder
                .push(" AND kind = ")
                .push_bind(query.key.kind.as_str())
                .push(" AND tag_key = ")
                .push_bind(query.key.name.clone());
            if let Some(values) = &query.values {
                builder.push(" AND value IN (");
                let mut list = builder.separated(", ");
                for value in values {
                    list.push_bind(value.clone());
                }
                // An empty allow-list must select nothing, not everything.
                if values.is_empty() {
                    list.push("NULL");
                }
                builder.push(")");
            }
        }
    };
}

pub(super) use impl_tag_store;
