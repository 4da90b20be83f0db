-- Spend per account by region and by usage type, for `/cost … by region|usage-type`.
-- Cost Explorer groups by at most two dimensions, so these come from separate queries
-- (LINKED_ACCOUNT × REGION, LINKED_ACCOUNT × USAGE_TYPE) and live beside cost_facts rather
-- than in it; summing across dimensions would double-count.

CREATE TABLE cost_breakdowns (
    granularity        TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_start       TIMESTAMP NOT NULL,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    dimension          TEXT NOT NULL CHECK (dimension IN ('region', 'usage_type')),
    key                TEXT NOT NULL,
    amount_units       BIGINT NOT NULL,
    estimated          BOOLEAN NOT NULL,
    source_account_id  TEXT NOT NULL,
    collected_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (granularity, dimension, period_start, account_id, key)
);

CREATE INDEX cost_breakdowns_by_source ON cost_breakdowns (source_account_id, dimension, collected_at);
