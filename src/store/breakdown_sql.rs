//! SQL for region and usage-type breakdowns, shared by both stores like `sql.rs`.

/// Implements `BreakdownStore` for a struct with a `pool` field.
macro_rules! impl_breakdown_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::BreakdownStore for $store {
            async fn replace_breakdowns(
                &self,
                source: &$crate::domain::AccountId,
                granularity: $crate::domain::Granularity,
                dimension: $crate::domain::BreakdownDimension,
                range: &$crate::domain::DateRange,
                rows: &[$crate::domain::BreakdownFact],
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
                    "DELETE FROM cost_breakdowns WHERE source_account_id = $1 AND granularity = $2 AND dimension = $3
                     AND period_start >= $4 AND period_start < $5",
                )
                .bind(source.as_str())
                .bind(granularity.as_str())
                .bind(dimension.as_str())
                .bind(range.start().and_hms_opt(0, 0, 0))
                .bind(range.end().and_hms_opt(0, 0, 0))
                .execute(&mut *tx)
                .await?;
                let mut written = 0;
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let mut units = Vec::with_capacity(chunk.len());
                    for row in chunk {
                        units.push(to_stored_units(row.amount)?);
                    }
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO cost_breakdowns (granularity, period_start, account_id, dimension, key, amount_units,
                         estimated, source_account_id, collected_at) ",
                    );
                    builder.push_values(chunk.iter().zip(&units), |mut b, (row, units)| {
                        b.push_bind(granularity.as_str())
                            .push_bind(row.period_start)
                            .push_bind(row.account.as_str())
                            .push_bind(dimension.as_str())
                            .push_bind(row.key.as_str())
                            .push_bind(*units)
                            .push_bind(row.estimated)
                            .push_bind(source.as_str())
                            .push_bind(collected_at);
                    });
                    builder.push(
                        " ON CONFLICT (granularity, dimension, period_start, account_id, key) DO UPDATE SET
                         amount_units = excluded.amount_units, estimated = excluded.estimated,
                         source_account_id = excluded.source_account_id, collected_at = excluded.collected_at",
                    );
                    written += builder.build().execute(&mut *tx).await?.rows_affected();
                }
                // The dimension's totals over all accounts for the replaced periods, from every
                // source's rows, as `replace_cost_facts` keeps `cost_rollups`.
                let (from, to) = (range.start().and_hms_opt(0, 0, 0), range.end().and_hms_opt(0, 0, 0));
                sqlx::query(
                    "DELETE FROM cost_breakdown_rollups WHERE granularity = $1 AND dimension = $2
                     AND period_start >= $3 AND period_start < $4",
                )
                .bind(granularity.as_str())
                .bind(dimension.as_str())
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO cost_breakdown_rollups (granularity, dimension, period_start, key, amount_units, estimated)
                     SELECT granularity, dimension, period_start, key, SUM(amount_units),
                            MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
                     FROM cost_breakdowns WHERE granularity = $1 AND dimension = $2
                     AND period_start >= $3 AND period_start < $4
                     GROUP BY granularity, dimension, period_start, key
                     ON CONFLICT (granularity, dimension, period_start, key) DO UPDATE SET
                     amount_units = excluded.amount_units, estimated = excluded.estimated",
                )
                .bind(granularity.as_str())
                .bind(dimension.as_str())
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(written)
            }

            async fn last_breakdown_at(
                &self,
                source: &$crate::domain::AccountId,
                dimension: $crate::domain::BreakdownDimension,
            ) -> anyhow::Result<Option<chrono::NaiveDateTime>> {
                Ok(sqlx::query_scalar("SELECT MAX(collected_at) FROM cost_breakdowns WHERE source_account_id = $1 AND dimension = $2")
                    .bind(source.as_str())
                    .bind(dimension.as_str())
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn spend_by_dimension(
                &self,
                query: &$crate::store::SpendQuery,
                dimension: $crate::domain::BreakdownDimension,
            ) -> anyhow::Result<Vec<$crate::store::SpendRow>> {
                // Over all accounts the rollups hold the sums; a scope reads its accounts' rows.
                let table = if query.accounts.is_none() { "cost_breakdown_rollups" } else { "cost_breakdowns" };
                let mut builder = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT key, CAST(COALESCE(SUM(amount_units), 0) AS TEXT),
                     CAST(COALESCE(MAX(CASE WHEN estimated THEN 1 ELSE 0 END), 0) AS BIGINT) FROM {table}"
                ));
                let facts = $crate::store::FactFilter { granularity: query.granularity, range: query.range, accounts: query.accounts.clone() };
                push_filter(&mut builder, &facts);
                builder.push(" AND dimension = ").push_bind(dimension.as_str()).push(" GROUP BY key");
                let rows: Vec<(String, String, i64)> = builder.build_query_as().fetch_all(&self.pool).await?;
                $crate::store::sql::spend_rows(rows)
            }

        }
    };
}

pub(super) use impl_breakdown_store;
