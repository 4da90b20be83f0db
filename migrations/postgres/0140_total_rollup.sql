-- One row per period for the whole organisation (dimension 'total', key ''), kept with the
-- other rollups in the transaction that replaces facts. An unscoped total over 400 days read
-- 400 × services rollup rows (16,000 at 40 services) on every question; it now reads 400.

ALTER TABLE cost_rollups DROP CONSTRAINT cost_rollups_dimension_check;
ALTER TABLE cost_rollups ADD CONSTRAINT cost_rollups_dimension_check
    CHECK (dimension IN ('service', 'account', 'total'));

INSERT INTO cost_rollups (granularity, period_start, dimension, key, amount_units, estimated)
SELECT granularity, period_start, 'total', '', SUM(amount_units), MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
FROM cost_facts GROUP BY granularity, period_start;
