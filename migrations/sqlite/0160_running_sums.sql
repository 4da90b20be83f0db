-- /cost at organisation scale (issue 21): the same index and running sums as the Postgres
-- migration of this number, which says what they answer and what they were measured on.
-- SQLite has no INCLUDE, so the index carries the summed columns as trailing keys, and the
-- running sums are stored in their primary key's order (WITHOUT ROWID), which covers reads.

CREATE INDEX cost_rollups_by_key ON cost_rollups (granularity, dimension, key, period_start, amount_units, estimated);

CREATE TABLE cost_running_sums (
    granularity   TEXT NOT NULL CHECK (granularity = 'daily'),
    dimension     TEXT NOT NULL CHECK (dimension IN ('service', 'account')),
    key           TEXT NOT NULL,
    period_start  TIMESTAMP NOT NULL,
    amount_units  BIGINT NOT NULL,
    periods       BIGINT NOT NULL,
    estimated     BOOLEAN NOT NULL,
    PRIMARY KEY (granularity, dimension, period_start, key)
) WITHOUT ROWID;

-- Filled from the rollups already stored, every day of every month that has them. Days are
-- written as sqlx writes timestamps ('YYYY-MM-DD HH:MM:SS'), so they join with stored rows.
WITH RECURSIVE
    months(month) AS (
        SELECT DISTINCT strftime('%Y-%m-01 00:00:00', period_start) FROM cost_rollups WHERE granularity = 'daily'
    ),
    days(month, day) AS (
        SELECT month, month FROM months
        UNION ALL
        SELECT month, datetime(day, '+1 day') FROM days WHERE datetime(day, '+1 day') < datetime(month, '+1 month')
    )
INSERT INTO cost_running_sums (granularity, dimension, key, period_start, amount_units, periods, estimated)
SELECT 'daily', dimension, key, day, amount_units, periods, estimated FROM (
    SELECT k.dimension, k.key, d.day,
           SUM(COALESCE(r.amount_units, 0)) OVER w AS amount_units,
           COUNT(r.key) OVER w AS periods,
           MAX(CASE WHEN r.estimated THEN 1 ELSE 0 END) OVER w = 1 AS estimated
    FROM (SELECT DISTINCT dimension, key, strftime('%Y-%m-01 00:00:00', period_start) AS month
          FROM cost_rollups WHERE granularity = 'daily' AND dimension IN ('service', 'account')) k
    JOIN days d ON d.month = k.month
    LEFT JOIN cost_rollups r ON r.granularity = 'daily' AND r.dimension = k.dimension AND r.key = k.key
        AND r.period_start = d.day
    WINDOW w AS (PARTITION BY k.dimension, k.key, k.month ORDER BY d.day)
) WHERE periods > 0;
