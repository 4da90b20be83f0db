-- Breakdowns at organisation scale (issue 21): the same index and rollup table as the
-- Postgres migration of this number, which says what they answer. SQLite has no INCLUDE:
-- the index carries the summed columns as trailing keys, and the rollups are stored in their
-- primary key's order (WITHOUT ROWID).

CREATE INDEX cost_breakdowns_by_account ON cost_breakdowns (granularity, dimension, account_id, period_start, key, amount_units, estimated);

CREATE TABLE cost_breakdown_rollups (
    granularity   TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    dimension     TEXT NOT NULL CHECK (dimension IN ('region', 'usage_type', 'record_type')),
    period_start  TIMESTAMP NOT NULL,
    key           TEXT NOT NULL,
    amount_units  BIGINT NOT NULL,
    estimated     BOOLEAN NOT NULL,
    PRIMARY KEY (granularity, dimension, period_start, key)
) WITHOUT ROWID;

INSERT INTO cost_breakdown_rollups (granularity, dimension, period_start, key, amount_units, estimated)
SELECT granularity, dimension, period_start, key, SUM(amount_units), MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
FROM cost_breakdowns GROUP BY granularity, dimension, period_start, key;
