-- /cost at organisation scale (issue 21). Two reads were slow at 1,000 accounts × 30 services
-- × 400 days (12 M facts; cost_rollups 412,000 rows), measured with EXPLAIN ANALYZE on that
-- data on the 2-core machine:
--
-- * A channel scoped to three accounts asks the account rollup for its keys over a range;
--   with the key third in the primary key, Postgres scanned the whole table (62-71 ms). The
--   index that leads with the key answers it from the index alone (0.3 ms).
-- * A breakdown's totals by account summed one rollup row per account and day (400,000 rows
--   for 400 days, 650 ms). cost_running_sums holds, per key and day, the key's spend from the
--   first of the month through that day, on every day from the key's first spend in the month
--   to the month's last day; a range's totals are then one row per key and month touched, less
--   one row per key for the day before the range (src/domain/running_sum.rs). `periods`
--   counts the key's rollup rows so far in the month, so a key with no spend in the range is
--   left out, as a sum of the daily rows would leave it out.
--
-- The running sums are kept in the transaction that replaces facts, with the other rollups.
--
-- A covering index on the facts led by the service (for unscoped breakdowns by account with
-- a service filter, 1.1-1.5 s at 12 M facts) was tried and left out: inserting into it in
-- the facts' period order took a load of 1 M facts from 7.7-9.5 s to 21 s on both engines.

CREATE INDEX cost_rollups_by_key ON cost_rollups (granularity, dimension, key, period_start)
    INCLUDE (amount_units, estimated);

CREATE TABLE cost_running_sums (
    granularity   TEXT NOT NULL CHECK (granularity = 'daily'),
    dimension     TEXT NOT NULL CHECK (dimension IN ('service', 'account')),
    key           TEXT NOT NULL,
    period_start  TIMESTAMP NOT NULL,
    amount_units  BIGINT NOT NULL,
    periods       BIGINT NOT NULL,
    estimated     BOOLEAN NOT NULL,
    -- Answers read a handful of days for every key; carrying the sums in the index lets
    -- them skip the table (400 days by account: 50 ms with table reads, 18 ms without, on
    -- the data above while a build ran).
    PRIMARY KEY (granularity, dimension, period_start, key) INCLUDE (amount_units, periods, estimated)
);

-- Filled from the rollups already stored, every day of every month that has them.
INSERT INTO cost_running_sums (granularity, dimension, key, period_start, amount_units, periods, estimated)
SELECT 'daily', dimension, key, day, amount_units, periods, estimated FROM (
    SELECT k.dimension, k.key, d.day,
           SUM(COALESCE(r.amount_units, 0)) OVER w AS amount_units,
           COUNT(r.key) OVER w AS periods,
           MAX(CASE WHEN r.estimated THEN 1 ELSE 0 END) OVER w = 1 AS estimated
    FROM (SELECT DISTINCT dimension, key, date_trunc('month', period_start) AS month
          FROM cost_rollups WHERE granularity = 'daily' AND dimension IN ('service', 'account')) k
    CROSS JOIN LATERAL generate_series(k.month, k.month + INTERVAL '1 month' - INTERVAL '1 day', INTERVAL '1 day') AS d(day)
    LEFT JOIN cost_rollups r ON r.granularity = 'daily' AND r.dimension = k.dimension AND r.key = k.key
        AND r.period_start = d.day
    WINDOW w AS (PARTITION BY k.dimension, k.key, k.month ORDER BY d.day)
) sums WHERE periods > 0;
