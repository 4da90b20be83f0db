-- Usage-only spend per account and service (Cost Explorer's RECORD_TYPE Usage,
-- DiscountedUsage and SavingsPlanCoveredUsage), for anomaly detection. cost_facts holds net
-- spend, where a credit, a refund, tax or a monthly fee moves a day that usage did not; the
-- detector scores usage by default, so those never alert. One query per payer and run, the
-- same grouping as the facts with a RECORD_TYPE filter; a re-collected range replaces it.

CREATE TABLE usage_facts (
    granularity        TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_start       TIMESTAMP NOT NULL,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    service            TEXT NOT NULL,
    amount_units       BIGINT NOT NULL,
    estimated          BOOLEAN NOT NULL,
    source_account_id  TEXT NOT NULL,
    collected_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (granularity, period_start, account_id, service)
);

CREATE INDEX usage_facts_by_source ON usage_facts (source_account_id, granularity, period_start);
