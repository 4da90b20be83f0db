-- Spend per account by Cost Explorer record type (Usage, Credit, Refund, Tax, fees), a third
-- breakdown beside region and usage type, so credits and refunds are kept apart from usage.
-- SQLite cannot change a CHECK constraint, so the table is rebuilt with its rows.
CREATE TABLE cost_breakdowns_new (
    granularity        TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_start       TIMESTAMP NOT NULL,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    dimension          TEXT NOT NULL CHECK (dimension IN ('region', 'usage_type', 'record_type')),
    key                TEXT NOT NULL,
    amount_units       BIGINT NOT NULL,
    estimated          BOOLEAN NOT NULL,
    source_account_id  TEXT NOT NULL,
    collected_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (granularity, dimension, period_start, account_id, key)
);
INSERT INTO cost_breakdowns_new SELECT granularity, period_start, account_id, dimension, key, amount_units,
    estimated, source_account_id, collected_at FROM cost_breakdowns;
DROP TABLE cost_breakdowns;
ALTER TABLE cost_breakdowns_new RENAME TO cost_breakdowns;
CREATE INDEX cost_breakdowns_by_source ON cost_breakdowns (source_account_id, dimension, collected_at);
