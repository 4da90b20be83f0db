//! Running sums of spend per service and account within each calendar month
//! (`cost_running_sums`, migration 0160; the arithmetic is in `domain::running_sum`), kept by
//! the transaction that replaces facts and read for the totals of a breakdown.

/// Rewrites, inside the fact write's transaction `$tx`, the running sums of every month that
/// daily `$range` touches, from the range's first day to the month's last, out of the daily
/// rollups just recomputed. Hourly writes have no running sums. Days are bound one by one so
/// both engines run the same statement; the cross join with them writes a row on every day
/// from a key's first spend in the month on, spend or not, so that any day can be an anchor.
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
                     SELECT 'daily', dimension, key, day, amount_units, periods, estimated FROM (
                     SELECT k.dimension, k.key, d.column1 AS day,
                            SUM(COALESCE(r.amount_units, 0)) OVER w AS amount_units,
                            COUNT(r.key) OVER w AS periods,
                            MAX(CASE WHEN r.estimated THEN 1 ELSE 0 END) OVER w = 1 AS estimated
                     FROM (SELECT DISTINCT dimension, key FROM cost_rollups WHERE granularity = 'daily'
                           AND dimension IN ('service', 'account') AND period_start >= ",
                );
                insert
                    .push_bind(midnight(month.start()))
                    .push(" AND period_start < ")
                    .push_bind(midnight(month.end()))
                    .push(") k CROSS JOIN (VALUES ");
                let mut days = insert.separated(", ");
                for day in month.iter_days() {
                    days.push("(").push_bind_unseparated(midnight(day)).push_unseparated(")");
                }
                insert
                    .push(
                        ") AS d LEFT JOIN cost_rollups r ON r.granularity = 'daily' AND r.dimension = k.dimension
                         AND r.key = k.key AND r.period_start = d.column1
                         WINDOW w AS (PARTITION BY k.dimension, k.key ORDER BY d.column1)
                         ) sums WHERE periods > 0 AND day >= ",
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
