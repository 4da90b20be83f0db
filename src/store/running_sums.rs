//! Running sums of spend per service and account within each calendar month
//! (`cost_running_sums`, migration 0160; the arithmetic is in `domain::running_sum`), kept by
//! the transaction that replaces facts and read for the totals of a breakdown.

/// Rewrites, inside the fact write's transaction `$tx`, the running sums of every month that
/// daily `$range` touches, from the range's first day to the month's last, out of the daily
/// rollups just recomputed. Hourly writes have no running sums. Days are bound one by one so
/// both engines run the same statement.
///
/// The statement reads the month's rollups once, sums them along each key's days with a
/// window, and spreads each sum over the days until the key's next rollup row (`LEAD`), so a
/// key has a row on every day from its first spend in the month on, spend or not, and any day
/// can be an anchor. An earlier form joined every key and day back to the rollups; Postgres
/// ran that join down the key index without the day in the index condition, reading all of
/// the key's rollup rows of every month for each day (1.1 M heap fetches and 0.6-0.7 s a
/// month in the re-run of `cargo bench --bench ingest`, auto_explain, 2026-12-02).
macro_rules! refresh_running_sums {
    ($tx:expr, $db:ty, $granularity:expr, $range:expr) => {{
        if $granularity == $crate::domain::Granularity::Daily {
            let midnight = |day: chrono::NaiveDate| day.and_hms_opt(0, 0, 0);
            for month in $crate::domain::running_sum::months($range) {
                let from = $range.start().max(month.start());
                sqlx::query(
                    "DELETE FROM cost_running_sums WHERE granularity = 'daily' AND period_start >= $1 AND period_start < $2",
                )
                .bind(midnight(from))
                .bind(midnight(month.end()))
                .execute(&mut *$tx)
                .await?;
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO cost_running_sums (granularity, dimension, key, period_start, amount_units, periods, estimated)
                     SELECT 'daily', s.dimension, s.key, d.column1, s.amount_units, s.periods, s.estimated FROM (
                     SELECT dimension, key, period_start,
                            SUM(amount_units) OVER w AS amount_units,
                            COUNT(*) OVER w AS periods,
                            MAX(CASE WHEN estimated THEN 1 ELSE 0 END) OVER w = 1 AS estimated,
                            LEAD(period_start) OVER w AS next_start
                     FROM cost_rollups WHERE granularity = 'daily'
                     AND dimension IN ('service', 'account') AND period_start >= ",
                );
                insert
                    .push_bind(midnight(month.start()))
                    .push(" AND period_start < ")
                    .push_bind(midnight(month.end()))
                    .push(
                        " WINDOW w AS (PARTITION BY dimension, key ORDER BY period_start)
                         ) s JOIN (VALUES ",
                    );
                let mut days = insert.separated(", ");
                for day in month.iter_days() {
                    days.push("(").push_bind_unseparated(midnight(day)).push_unseparated(")");
                }
                insert
                    .push(
                        ") AS d ON d.column1 >= s.period_start AND (s.next_start IS NULL OR d.column1 < s.next_start)
                         WHERE d.column1 >= ",
                    )
                    .push_bind(midnight(from))
                    .push(
                        " ON CONFLICT (granularity, dimension, period_start, key) DO UPDATE SET
                         amount_units = excluded.amount_units, periods = excluded.periods, estimated = excluded.estimated",
                    );
                insert.build().execute(&mut *$tx).await?;
            }
        }
    }};
}

pub(super) use refresh_running_sums;
