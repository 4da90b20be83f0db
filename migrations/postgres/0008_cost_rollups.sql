-- Per-day (or per-hour) totals by service and by account across all accounts, kept in step
-- with cost_facts inside the transaction that replaces facts. Unscoped /cost answers read a
-- few hundred rollup rows instead of summing tens of thousands of facts per request.

CREATE TABLE cost_rollups (
    granularity   TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_start  TIMESTAMP NOT NULL,
    dimension     TEXT NOT NULL CHECK (dimension IN ('service', 'account')),
    key           TEXT NOT NULL,
    amount_units  BIGINT NOT NULL,
    estimated     BOOLEAN NOT NULL,
    PRIMARY KEY (granularity, dimension, period_start, key)
);

INSERT INTO cost_rollups (granularity, period_start, dimension, key, amount_units, estimated)
SELECT granularity, period_start, 'service', service, SUM(amount_units), MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
FROM cost_facts GROUP BY granularity, period_start, service;

INSERT INTO cost_rollups (granularity, period_start, dimension, key, amount_units, estimated)
SELECT granularity, period_start, 'account', account_id, SUM(amount_units), MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
FROM cost_facts GROUP BY granularity, period_start, account_id;
