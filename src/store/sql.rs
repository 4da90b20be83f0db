//! The SQL shared by both stores.
//!
//! Postgres and SQLite accept the same statements here (`$N` parameters, `ON CONFLICT`,
//! `RETURNING`), so one macro body implements [`Store`](super::Store) for both pool types and
//! the two stores cannot drift apart. Sums are cast to text in SQL because Postgres returns
//! NUMERIC and SQLite an integer for `SUM(bigint)`; text parses exactly either way.

use anyhow::{Context, Result};

use crate::domain::Money;

/// Rows per multi-row INSERT: 9 parameters each stays under SQLite's 32,766-parameter limit
/// and Postgres's 65,535.
pub(super) const INSERT_CHUNK: usize = 3_000;

/// Parses a `CAST(SUM(amount_units) AS TEXT)` result.
pub(super) fn parse_units_sum(text: &str) -> Result<Money> {
    // Postgres prints NUMERIC sums of integers without a fraction; be lenient anyway.
    let whole = text.split('.').next().unwrap_or(text);
    let units: i128 = whole.parse().with_context(|| format!("store returned a non-integer sum `{text}`"))?;
    Ok(Money::from_units(units))
}

/// Converts an exact amount to the stored integer, refusing what does not fit.
pub(super) fn to_stored_units(amount: Money) -> Result<i64> {
    i64::try_from(amount.to_units()).with_context(|| format!("amount {amount} does not fit the store"))
}

/// How an engine writes a batch of cost facts inside the replacing transaction, after the
/// range was deleted: upserts (another source may hold the same day, account and service).
/// Returns the rows written.
#[async_trait::async_trait]
pub(super) trait FactRows {
    /// The engine.
    type Db: sqlx::Database;
    /// The statements that rebuild the service and account rollups of a replaced range from
    /// every source's facts, each bound with the granularity and the range's two ends.
    const ROLLUP_STATEMENTS: &'static [&'static str];
    /// Writes `facts` for `source` in `tx`; every fact is of `granularity` and inside `range`.
    async fn write_fact_rows(
        tx: &mut sqlx::Transaction<'_, Self::Db>,
        source: &crate::domain::AccountId,
        granularity: crate::domain::Granularity,
        range: &crate::domain::DateRange,
        facts: &[crate::domain::CostFact],
        collected_at: chrono::NaiveDateTime,
    ) -> Result<u64>;
}

/// The rollup of one dimension of a range from every source's facts, grouped by `$column`.
macro_rules! rollup_of {
    ($dimension:literal, $column:literal) => {
        concat!(
            "INSERT INTO cost_rollups (granularity, period_start, dimension, key, amount_units, estimated)
             SELECT granularity, period_start, '",
            $dimension,
            "', ",
            $column,
            ", SUM(amount_units),
                    MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
             FROM cost_facts WHERE granularity = $1 AND period_start >= $2 AND period_start < $3
             GROUP BY granularity, period_start, ",
            $column,
            "
             ON CONFLICT (granularity, dimension, period_start, key) DO UPDATE SET
             amount_units = excluded.amount_units, estimated = excluded.estimated"
        )
    };
}

/// The service and account rollups of a range as two statements, one scan of the facts each:
/// SQLite has no `GROUPING SETS`.
pub(super) const ROLLUPS_ONE_DIMENSION_EACH: &[&str] =
    &[rollup_of!("service", "service"), rollup_of!("account", "account_id")];

/// Turns `(key, CAST(SUM) AS TEXT, estimated flag)` rows into spend rows, largest first.
pub(super) fn spend_rows(rows: Vec<(String, String, i64)>) -> Result<Vec<super::SpendRow>> {
    let mut out = rows
        .into_iter()
        .map(|(key, sum, estimated)| {
            Ok(super::SpendRow { key, amount: parse_units_sum(&sum)?, estimated: estimated != 0 })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.key.cmp(&b.key)));
    Ok(out)
}

/// Implements the schema, account, cost, run and operations roles of `Store` for a struct
/// with a `pool` field of the given sqlx database.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SchemaStore for $store {
            async fn migrate(&self) -> anyhow::Result<()> {
                use anyhow::Context as _;
                Self::MIGRATOR.run(&self.pool).await.context("cannot apply migrations")
            }

            async fn ping(&self) -> anyhow::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn migration_status(&self) -> anyhow::Result<$crate::store::MigrationStatus> {
                let query = "SELECT version, success FROM _sqlx_migrations ORDER BY version";
                // A database costbot never migrated has no bookkeeping table: nothing applied.
                let recorded: Vec<(i64, bool)> = match sqlx::query_as(query).fetch_all(&self.pool).await {
                    Ok(rows) => rows,
                    Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
                let embedded: Vec<(i64, String)> =
                    Self::MIGRATOR.iter().map(|m| (m.version, m.description.to_string())).collect();
                Ok($crate::store::MigrationStatus::compare(&embedded, &recorded))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AccountStore for $store {
            async fn upsert_accounts(&self, accounts: &[$crate::domain::Account]) -> anyhow::Result<()> {
                let now = chrono::Utc::now().naive_utc();
                let mut tx = self.pool.begin().await?;
                for account in accounts {
                    sqlx::query(
                        "INSERT INTO accounts (id, name, configured, first_seen, updated_at)
                         VALUES ($1, $2, $3, $4, $4)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                             configured = excluded.configured, updated_at = excluded.updated_at",
                    )
                    .bind(account.id.as_str())
                    .bind(account.name.as_deref())
                    .bind(account.configured)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn accounts(&self) -> anyhow::Result<Vec<$crate::domain::Account>> {
                let rows: Vec<(String, Option<String>, bool)> =
                    sqlx::query_as("SELECT id, name, configured FROM accounts ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map(|(id, name, configured)| {
                        Ok($crate::domain::Account { id: $crate::domain::AccountId::parse(&id)?, name, configured })
                    })
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::CostStore for $store {
            async fn last_complete_day(
                &self,
                source: &$crate::domain::AccountId,
                granularity: $crate::domain::Granularity,
            ) -> anyhow::Result<Option<chrono::NaiveDate>> {
                let newest: Option<chrono::NaiveDateTime> = sqlx::query_scalar(
                    "SELECT MAX(period_start) FROM cost_facts
                     WHERE source_account_id = $1 AND granularity = $2 AND estimated = FALSE",
                )
                .bind(source.as_str())
                .bind(granularity.as_str())
                .fetch_one(&self.pool)
                .await?;
                Ok(newest.map(|t| t.date()))
            }

            async fn replace_cost_facts(
                &self,
                source: &$crate::domain::AccountId,
                granularity: $crate::domain::Granularity,
                range: &$crate::domain::DateRange,
                facts: &[$crate::domain::CostFact],
                collected_at: chrono::NaiveDateTime,
            ) -> anyhow::Result<u64> {
                $crate::store::change_log::check_in_range(granularity, range, facts)?;
                let mut tx = self.pool.begin().await?;
                let mut seen = std::collections::BTreeSet::new();
                for fact in facts {
                    if seen.insert(fact.account.as_str()) {
                        sqlx::query(
                            "INSERT INTO accounts (id, name, configured, first_seen, updated_at)
                             VALUES ($1, NULL, FALSE, $2, $2) ON CONFLICT (id) DO NOTHING",
                        )
                        .bind(fact.account.as_str())
                        .bind(collected_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                sqlx::query(
                    "DELETE FROM cost_facts WHERE source_account_id = $1 AND granularity = $2
                     AND period_start >= $3 AND period_start < $4",
                )
                .bind(source.as_str())
                .bind(granularity.as_str())
                .bind(range.start().and_hms_opt(0, 0, 0))
                .bind(range.end().and_hms_opt(0, 0, 0))
                .execute(&mut *tx)
                .await?;
                // Each engine writes the rows its own fastest way: Postgres through COPY,
                // SQLite through multi-row inserts (`FactRows`).
                let written = <$store as $crate::store::sql::FactRows>::write_fact_rows(
                    &mut tx,
                    source,
                    granularity,
                    range,
                    facts,
                    collected_at,
                )
                .await?;
                // Recompute the rollups for the replaced range from all sources' facts. Two
                // sources replacing the same days at once (payers collected concurrently) on
                // Postgres: the later DELETE cannot see the earlier one's new rows, so the
                // INSERT overwrites them; its SELECT runs after the other commits and sees
                // both sources' facts.
                let (from, to) = (range.start().and_hms_opt(0, 0, 0), range.end().and_hms_opt(0, 0, 0));
                sqlx::query(
                    "DELETE FROM cost_rollups WHERE granularity = $1 AND period_start >= $2 AND period_start < $3",
                )
                .bind(granularity.as_str())
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
                for statement in <$store as $crate::store::sql::FactRows>::ROLLUP_STATEMENTS {
                    sqlx::query(statement).bind(granularity.as_str()).bind(from).bind(to).execute(&mut *tx).await?;
                }
                // The total is the sum of the service rows just written (every fact has one
                // service), a few dozen rows a period instead of every fact again.
                sqlx::query(
                    "INSERT INTO cost_rollups (granularity, period_start, dimension, key, amount_units, estimated)
                     SELECT granularity, period_start, 'total', '', SUM(amount_units),
                            MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
                     FROM cost_rollups WHERE granularity = $1 AND dimension = 'service'
                     AND period_start >= $2 AND period_start < $3
                     GROUP BY granularity, period_start
                     ON CONFLICT (granularity, dimension, period_start, key) DO UPDATE SET
                     amount_units = excluded.amount_units, estimated = excluded.estimated",
                )
                .bind(granularity.as_str())
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
                $crate::store::running_sums::refresh_running_sums!(tx, $db, granularity, range);
                $crate::store::change_log::record_fact_change!(tx, granularity, range);
                tx.commit().await?;
                Ok(written)
            }

            async fn cost_facts(
                &self,
                filter: &$crate::store::FactFilter,
            ) -> anyhow::Result<Vec<$crate::domain::CostFact>> {
                let mut builder = sqlx::QueryBuilder::<$db>::new(
                    "SELECT period_start, account_id, service, amount_units, unit, estimated FROM cost_facts",
                );
                push_filter(&mut builder, filter);
                builder.push(" ORDER BY period_start, account_id, service");
                let rows: Vec<(chrono::NaiveDateTime, String, String, i64, String, bool)> =
                    builder.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(period_start, account, service, units, unit, estimated)| {
                        Ok($crate::domain::CostFact {
                            granularity: filter.granularity,
                            period_start,
                            account: $crate::domain::AccountId::parse(&account)?,
                            service: $crate::domain::ServiceName::parse(&service)?,
                            amount: $crate::domain::Money::from_units(i128::from(units)),
                            unit,
                            estimated,
                        })
                    })
                    .collect()
            }

            async fn visit_cost_facts(
                &self,
                filter: &$crate::store::FactFilter,
                visit: &mut $crate::store::FactVisitor<'_>,
            ) -> anyhow::Result<u64> {
                self.visit_fact_table("cost_facts", filter, visit).await
            }

            async fn total(&self, filter: &$crate::store::FactFilter) -> anyhow::Result<$crate::domain::Money> {
                let mut builder = sqlx::QueryBuilder::<$db>::new(
                    "SELECT CAST(COALESCE(SUM(amount_units), 0) AS TEXT) FROM cost_facts",
                );
                push_filter(&mut builder, filter);
                let text: String = builder.build_query_scalar().fetch_one(&self.pool).await?;
                $crate::store::sql::parse_units_sum(&text)
            }

            async fn spend(
                &self,
                query: &$crate::store::SpendQuery,
                group: $crate::store::SpendGroup,
            ) -> anyhow::Result<Vec<$crate::store::SpendRow>> {
                let key = $crate::store::spend_sql::spend_key(query, group);
                let mut builder = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {key}, CAST(COALESCE(SUM(amount_units), 0) AS TEXT),
                     CAST(COALESCE(MAX(CASE WHEN estimated THEN 1 ELSE 0 END), 0) AS BIGINT)"
                ));
                push_spend_from(&mut builder, query, group);
                if group != $crate::store::SpendGroup::Total {
                    builder.push(format!(" GROUP BY {key}"));
                }
                let rows: Vec<(String, String, i64)> = builder.build_query_as().fetch_all(&self.pool).await?;
                $crate::store::sql::spend_rows(rows)
            }

            async fn spend_matrix(
                &self,
                query: &$crate::store::SpendQuery,
                group: $crate::store::SpendGroup,
            ) -> anyhow::Result<Vec<(chrono::NaiveDateTime, $crate::store::SpendRow)>> {
                let key = $crate::store::spend_sql::spend_key(query, group);
                let mut builder = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT period_start, {key}, CAST(SUM(amount_units) AS TEXT),
                     CAST(MAX(CASE WHEN estimated THEN 1 ELSE 0 END) AS BIGINT)"
                ));
                push_spend_from(&mut builder, query, group);
                // Postgres refuses a constant in GROUP BY, so a total groups by period alone.
                builder.push(if group == $crate::store::SpendGroup::Total {
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

            async fn spend_summary(
                &self,
                query: &$crate::store::SpendQuery,
                group: $crate::store::SpendGroup,
            ) -> anyhow::Result<$crate::store::SpendSummary> {
                self.spend_summary_sql(query, group).await
            }

            async fn spend_per_period(
                &self,
                query: &$crate::store::SpendQuery,
            ) -> anyhow::Result<Vec<(chrono::NaiveDateTime, $crate::domain::Money, bool)>> {
                // The same rows as a total's matrix, so the rollups serve unscoped queries.
                let rows = self.spend_matrix(query, $crate::store::SpendGroup::Total).await?;
                let mut out: Vec<(chrono::NaiveDateTime, $crate::domain::Money, bool)> =
                    rows.into_iter().map(|(at, row)| (at, row.amount, row.estimated)).collect();
                out.sort_by_key(|(at, _, _)| *at);
                Ok(out)
            }

            async fn services_since(
                &self,
                since: chrono::NaiveDate,
            ) -> anyhow::Result<Vec<$crate::domain::ServiceName>> {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT key FROM cost_rollups WHERE granularity = 'daily' AND dimension = 'service'
                     AND period_start >= $1 ORDER BY key",
                )
                .bind(since.and_hms_opt(0, 0, 0))
                .fetch_all(&self.pool)
                .await?;
                names.iter().map(|n| Ok($crate::domain::ServiceName::parse(n)?)).collect()
            }

            async fn source_fact_count(
                &self,
                source: &$crate::domain::AccountId,
                filter: &$crate::store::FactFilter,
            ) -> anyhow::Result<u64> {
                let mut builder = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM cost_facts");
                push_filter(&mut builder, filter);
                builder.push(" AND source_account_id = ").push_bind(source.as_str().to_string());
                let n: i64 = builder.build_query_scalar().fetch_one(&self.pool).await?;
                Ok(u64::try_from(n).unwrap_or_default())
            }

            async fn count_facts(&self, granularity: $crate::domain::Granularity) -> anyhow::Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cost_facts WHERE granularity = $1")
                    .bind(granularity.as_str())
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(n).unwrap_or_default())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::RunStore for $store {
            async fn start_run(
                &self,
                job: &str,
                started_at: chrono::NaiveDateTime,
            ) -> anyhow::Result<$crate::domain::run::RunId> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO collector_runs (job, started_at, status) VALUES ($1, $2, 'running') RETURNING id",
                )
                .bind(job)
                .bind(started_at)
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::domain::run::RunId(id))
            }

            async fn finish_run(
                &self,
                run: $crate::domain::run::RunId,
                finished_at: chrono::NaiveDateTime,
                sources: &[$crate::domain::run::SourceReport],
            ) -> anyhow::Result<()> {
                let status = $crate::domain::run::RunStatus::from_sources(sources);
                let errors: Vec<String> = sources
                    .iter()
                    .filter_map(|s| s.error.as_ref().map(|e| format!("account {}: {e}", s.source)))
                    .collect();
                let error = (!errors.is_empty()).then(|| errors.join("; "));
                let rows: u64 = sources.iter().map(|s| s.rows_written).sum();
                let calls: u64 = sources.iter().map(|s| s.api_calls).sum();
                let mut tx = self.pool.begin().await?;
                for s in sources {
                    sqlx::query(
                        "INSERT INTO collector_run_sources (run_id, source_account_id, range_start, range_end,
                         rows_written, api_calls, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(run.0)
                    .bind(s.source.as_str())
                    .bind(s.range.start())
                    .bind(s.range.end())
                    .bind(i64::try_from(s.rows_written)?)
                    .bind(i64::try_from(s.api_calls)?)
                    .bind(s.error.as_deref())
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "UPDATE collector_runs SET finished_at = $2, status = $3, error = $4, rows_written = $5,
                     api_calls = $6 WHERE id = $1",
                )
                .bind(run.0)
                .bind(finished_at)
                .bind(status.as_str())
                .bind(error)
                .bind(i64::try_from(rows)?)
                .bind(i64::try_from(calls)?)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn recent_runs(&self, limit: u32) -> anyhow::Result<Vec<$crate::domain::run::CollectorRun>> {
                use $crate::domain::run::{CollectorRun, RunId, RunStatus, SourceReport};
                type RunRow = (
                    i64,
                    String,
                    chrono::NaiveDateTime,
                    Option<chrono::NaiveDateTime>,
                    String,
                    Option<String>,
                    i64,
                    i64,
                );
                let runs: Vec<RunRow> = sqlx::query_as(
                    "SELECT id, job, started_at, finished_at, status, error, rows_written, api_calls
                     FROM collector_runs ORDER BY id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(runs.len());
                for (id, job, started_at, finished_at, status, error, rows, calls) in runs {
                    type SourceRow = (String, chrono::NaiveDate, chrono::NaiveDate, i64, i64, Option<String>);
                    let sources: Vec<SourceRow> = sqlx::query_as(
                        "SELECT source_account_id, range_start, range_end, rows_written, api_calls, error
                         FROM collector_run_sources WHERE run_id = $1 ORDER BY source_account_id",
                    )
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                    let sources = sources
                        .into_iter()
                        .map(|(source, start, end, rows, calls, error)| {
                            Ok(SourceReport {
                                source: $crate::domain::AccountId::parse(&source)?,
                                range: $crate::domain::DateRange::new(start, end)?,
                                rows_written: u64::try_from(rows)?,
                                api_calls: u64::try_from(calls)?,
                                error,
                            })
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    out.push(CollectorRun {
                        id: RunId(id),
                        job,
                        started_at,
                        finished_at,
                        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
                        error,
                        rows_written: u64::try_from(rows)?,
                        api_calls: u64::try_from(calls)?,
                        sources,
                    });
                }
                Ok(out)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::OperationsStore for $store {
            async fn operational_counts(&self) -> anyhow::Result<$crate::store::OperationalCounts> {
                let anomalies_open: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM anomalies WHERE status <> 'resolved'")
                        .fetch_one(&self.pool)
                        .await?;
                let proposals: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM proposals GROUP BY state ORDER BY state")
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::store::OperationalCounts {
                    anomalies_open: u64::try_from(anomalies_open).unwrap_or_default(),
                    proposals: proposals.into_iter().map(|(s, n)| (s, u64::try_from(n).unwrap_or_default())).collect(),
                })
            }
        }

        /// Appends the WHERE clause of a spend query.
        fn push_spend_filter(builder: &mut sqlx::QueryBuilder<'_, $db>, query: &$crate::store::SpendQuery) {
            let facts = $crate::store::FactFilter {
                granularity: query.granularity,
                range: query.range,
                accounts: query.accounts.clone(),
            };
            push_filter(builder, &facts);
            if let Some(services) = &query.services {
                builder.push(" AND service IN (");
                let mut list = builder.separated(", ");
                for service in services {
                    list.push_bind(service.as_str().to_string());
                }
                if services.is_empty() {
                    list.push("NULL");
                }
                builder.push(")");
            }
        }

        /// Appends the WHERE clause of a fact filter.
        pub(super) fn push_filter(builder: &mut sqlx::QueryBuilder<'_, $db>, filter: &$crate::store::FactFilter) {
            builder
                .push(" WHERE granularity = ")
                .push_bind(filter.granularity.as_str())
                .push(" AND period_start >= ")
                .push_bind(filter.range.start().and_hms_opt(0, 0, 0))
                .push(" AND period_start < ")
                .push_bind(filter.range.end().and_hms_opt(0, 0, 0));
            if let Some(accounts) = &filter.accounts {
                builder.push(" AND account_id IN (");
                let mut list = builder.separated(", ");
                for account in accounts {
                    list.push_bind(account.as_str().to_string());
                }
                // An empty allow-list must select nothing, not everything.
                if accounts.is_empty() {
                    list.push("NULL");
                }
                builder.push(")");
            }
        }
    };
}

pub(super) use impl_sql_store;
