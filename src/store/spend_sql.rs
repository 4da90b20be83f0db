//! Where a spend question's sums come from, shared by both stores like `sql.rs`: the
//! smallest table that holds them ([`rollup_for`]), else the facts.
//!
//! [`CostStore::spend_summary`](super::CostStore::spend_summary) answers a breakdown with its
//! daily trend in one statement of two parts, each from its own smallest table: the trend of
//! an unscoped breakdown by account reads one total row a day, not one row per account and
//! day. One statement sees one snapshot, so the trend and the groups always add up to the
//! same total, even while a collection commits.

use anyhow::Result;

/// A rollup that answers a spend query: the dimension's rows, narrowed to these keys.
pub(super) struct Rollup {
    /// `service` or `account`.
    pub dimension: &'static str,
    /// The keys to sum (services or accounts); `None` for all of them.
    pub keys: Option<Vec<String>>,
}

/// Which rollup answers a spend query, if one can. The total rollup answers unscoped totals
/// without a service filter (one row per period). The service rollup answers questions over
/// all accounts (narrowed to the filtered services); the account rollup answers per-account
/// breakdowns and totals without a service filter, over all accounts or a channel's scope
/// (the rollup has no services). Scoped questions by service, or with a service filter, read
/// the facts through the account index.
pub(super) fn rollup_for(query: &super::SpendQuery, group: super::SpendGroup) -> Option<Rollup> {
    use super::SpendGroup;
    let accounts = || query.accounts.as_ref().map(|ids| ids.iter().map(|id| id.as_str().to_string()).collect());
    match (group, &query.accounts, &query.services) {
        (SpendGroup::Account, _, None) | (SpendGroup::Total, Some(_), None) => {
            Some(Rollup { dimension: "account", keys: accounts() })
        }
        (SpendGroup::Total, None, None) => Some(Rollup { dimension: "total", keys: None }),
        (SpendGroup::Total | SpendGroup::Service, None, services) => Some(Rollup {
            dimension: "service",
            keys: services.as_ref().map(|names| names.iter().map(|n| n.as_str().to_string()).collect()),
        }),
        _ => None,
    }
}

/// The column that holds a group's key in the table [`rollup_for`] picks (`''` for a total).
pub(super) fn spend_key(query: &super::SpendQuery, group: super::SpendGroup) -> &'static str {
    use super::SpendGroup;
    match (group, rollup_for(query, group)) {
        (SpendGroup::Total, _) => "''",
        (_, Some(_)) => "key",
        (SpendGroup::Service, None) => "service",
        (SpendGroup::Account, None) => "account_id",
    }
}

/// Turns the rows of a spend summary (`part` 0: one per period; 1: one per group) into a
/// [`SpendSummary`](super::SpendSummary): periods oldest first, groups largest first.
pub(super) fn summary_rows(
    rows: Vec<(i64, Option<chrono::NaiveDateTime>, String, String, i64)>,
) -> Result<super::SpendSummary> {
    let mut periods = Vec::new();
    let mut groups = Vec::new();
    for (part, at, key, sum, estimated) in rows {
        match (part, at) {
            (0, Some(at)) => periods.push((at, super::sql::parse_units_sum(&sum)?, estimated != 0)),
            (1, _) => groups.push((key, sum, estimated)),
            _ => anyhow::bail!("a spend summary row of part {part} has no period"),
        }
    }
    periods.sort_by_key(|(at, _, _)| *at);
    Ok(super::SpendSummary { periods, groups: super::sql::spend_rows(groups)? })
}

/// Implements the spend reads for a struct with a `pool` field of the given sqlx database:
/// module-level `push_spend_from` and the inherent `spend_summary_sql`.
macro_rules! impl_spend_reads {
    ($store:ty, $db:ty) => {
        /// Appends `FROM … WHERE …` of the table that answers `query` grouped by `group`;
        /// [`spend_key`]($crate::store::spend_sql::spend_key) names the group's column there.
        pub(super) fn push_spend_from(
            builder: &mut sqlx::QueryBuilder<'_, $db>,
            query: &$crate::store::SpendQuery,
            group: $crate::store::SpendGroup,
        ) {
            match $crate::store::spend_sql::rollup_for(query, group) {
                // Rollups answer what they can: a few rows per period, not every fact.
                Some(rollup) => {
                    builder
                        .push(" FROM cost_rollups WHERE granularity = ")
                        .push_bind(query.granularity.as_str())
                        .push(" AND dimension = ")
                        .push_bind(rollup.dimension)
                        .push(" AND period_start >= ")
                        .push_bind(query.range.start().and_hms_opt(0, 0, 0))
                        .push(" AND period_start < ")
                        .push_bind(query.range.end().and_hms_opt(0, 0, 0));
                    push_rollup_keys(builder, rollup.keys.as_deref());
                }
                None => {
                    builder.push(" FROM cost_facts");
                    push_spend_filter(builder, query);
                }
            }
        }

        /// Appends ` AND key IN (…)` when a rollup is narrowed to some keys.
        fn push_rollup_keys(builder: &mut sqlx::QueryBuilder<'_, $db>, keys: Option<&[String]>) {
            if let Some(keys) = keys {
                builder.push(" AND key IN (");
                let mut list = builder.separated(", ");
                for key in keys {
                    list.push_bind(key.clone());
                }
                // An empty allow-list must select nothing, not everything.
                if keys.is_empty() {
                    list.push("NULL");
                }
                builder.push(")");
            }
        }

        /// Appends the part of a spend summary that sums `rollup`'s keys over the query's
        /// range from the running sums on the range's anchor days
        /// ([`anchors`]($crate::domain::running_sum::anchors)). A key is left out when none of
        /// its rollup rows falls in the range; its estimated flag also counts earlier days of
        /// the range's first month.
        fn push_running_sums(
            builder: &mut sqlx::QueryBuilder<'_, $db>,
            query: &$crate::store::SpendQuery,
            rollup: &$crate::store::spend_sql::Rollup,
        ) {
            let anchors = $crate::domain::running_sum::anchors(&query.range);
            let midnight = |day: chrono::NaiveDate| day.and_hms_opt(0, 0, 0);
            // The minus day is never a plus day: it is before the range, they are inside.
            let signed = |builder: &mut sqlx::QueryBuilder<'_, $db>, column: &str| match anchors.minus {
                Some(minus) => {
                    builder.push("SUM(CASE WHEN period_start = ");
                    builder.push_bind(midnight(minus)).push(format!(" THEN -{column} ELSE {column} END)"));
                }
                None => {
                    builder.push(format!("SUM({column})"));
                }
            };
            builder.push(" UNION ALL SELECT CAST(1 AS BIGINT), CAST(NULL AS TIMESTAMP), key, CAST(");
            signed(builder, "amount_units");
            builder
                .push(" AS TEXT), CAST(MAX(CASE WHEN estimated THEN 1 ELSE 0 END) AS BIGINT) FROM cost_running_sums")
                .push(" WHERE granularity = 'daily' AND dimension = ")
                .push_bind(rollup.dimension)
                .push(" AND period_start IN (");
            let mut days = builder.separated(", ");
            for day in anchors.plus.iter().chain(anchors.minus.iter()) {
                days.push_bind(midnight(*day));
            }
            builder.push(")");
            push_rollup_keys(builder, rollup.keys.as_deref());
            builder.push(" GROUP BY key HAVING ");
            signed(builder, "periods");
            builder.push(" > 0");
        }

        impl $store {
            /// See [`CostStore::spend_summary`]($crate::store::CostStore::spend_summary).
            pub(super) async fn spend_summary_sql(
                &self,
                query: &$crate::store::SpendQuery,
                group: $crate::store::SpendGroup,
            ) -> anyhow::Result<$crate::store::SpendSummary> {
                const SUMS: &str =
                    "CAST(SUM(amount_units) AS TEXT), CAST(MAX(CASE WHEN estimated THEN 1 ELSE 0 END) AS BIGINT)";
                let mut builder =
                    sqlx::QueryBuilder::<$db>::new(format!("SELECT CAST(0 AS BIGINT), period_start, '', {SUMS}"));
                push_spend_from(&mut builder, query, $crate::store::SpendGroup::Total);
                builder.push(" GROUP BY period_start");
                match (group, $crate::store::spend_sql::rollup_for(query, group)) {
                    ($crate::store::SpendGroup::Total, _) => {}
                    (_, Some(rollup)) if query.granularity == $crate::domain::Granularity::Daily => {
                        push_running_sums(&mut builder, query, &rollup);
                    }
                    _ => {
                        let key = $crate::store::spend_sql::spend_key(query, group);
                        builder.push(format!(
                            " UNION ALL SELECT CAST(1 AS BIGINT), CAST(NULL AS TIMESTAMP), {key}, {SUMS}"
                        ));
                        push_spend_from(&mut builder, query, group);
                        builder.push(format!(" GROUP BY {key}"));
                    }
                }
                let rows: Vec<(i64, Option<chrono::NaiveDateTime>, String, String, i64)> =
                    builder.build_query_as().fetch_all(&self.pool).await?;
                $crate::store::spend_sql::summary_rows(rows)
            }
        }
    };
}

pub(super) use impl_spend_reads;
