-- Breakdowns at organisation scale (issue 21). Every answer without a service filter reads
-- the record types (gross, credits, net), and `by region` / `by usage-type` read their
-- dimension, from cost_breakdowns, whose primary key leads with the period: an unscoped
-- question summed every account's rows in the range (1,000 accounts × 3 record types × 400
-- days: 1.2 M rows), and a channel scoped to three accounts scanned them all as well.
--
-- cost_breakdown_rollups holds each dimension's per-period totals over all accounts, kept in
-- the transaction that replaces breakdowns; unscoped answers read one row per key and
-- period from it. Scoped answers read the facts down an index that leads with the account
-- and carries the summed columns.

CREATE INDEX cost_breakdowns_by_account ON cost_breakdowns (granularity, dimension, account_id, period_start)
    INCLUDE (key, amount_units, estimated);

CREATE TABLE cost_breakdown_rollups (
    granularity   TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    dimension     TEXT NOT NULL CHECK (dimension IN ('region', 'usage_type', 'record_type')),
    period_start  TIMESTAMP NOT NULL,
    key           TEXT NOT NULL,
    amount_units  BIGINT NOT NULL,
    estimated     BOOLEAN NOT NULL,
    PRIMARY KEY (granularity, dimension, period_start, key) INCLUDE (amount_units, estimated)
);

INSERT INTO cost_breakdown_rollups (granularity, dimension, period_start, key, amount_units, estimated)
SELECT granularity, dimension, period_start, key, SUM(amount_units), MAX(CASE WHEN estimated THEN 1 ELSE 0 END) = 1
FROM cost_breakdowns GROUP BY granularity, dimension, period_start, key;
