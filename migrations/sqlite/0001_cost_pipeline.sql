-- The cost pipeline: accounts, cost facts, collector runs and scheduled-job claims.
-- Amounts are exact integers of 10^-10 USD ("units"); SQLite sums integers exactly and
-- raises an error rather than wrapping if a total ever exceeded 2^63 units.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9]*'),
    name        TEXT,
    configured  BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE cost_facts (
    granularity        TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_start       TIMESTAMP NOT NULL,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    service            TEXT NOT NULL CHECK (service <> ''),
    amount_units       BIGINT NOT NULL,
    unit               TEXT NOT NULL,
    estimated          BOOLEAN NOT NULL,
    source_account_id  TEXT NOT NULL,
    collected_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (granularity, period_start, account_id, service)
);

-- Answers filter by account over a period; the collector replaces a source's recent range.
CREATE INDEX cost_facts_by_account ON cost_facts (granularity, account_id, period_start);
CREATE INDEX cost_facts_by_source ON cost_facts (source_account_id, granularity, period_start);

CREATE TABLE collector_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    error         TEXT,
    rows_written  BIGINT NOT NULL DEFAULT 0,
    api_calls     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE collector_run_sources (
    run_id             BIGINT NOT NULL REFERENCES collector_runs (id),
    source_account_id  TEXT NOT NULL,
    range_start        DATE NOT NULL,
    range_end          DATE NOT NULL,
    rows_written       BIGINT NOT NULL,
    api_calls          BIGINT NOT NULL,
    error              TEXT,
    PRIMARY KEY (run_id, source_account_id)
);

-- One row per (job, scheduled tick): the replica whose INSERT wins runs the job.
CREATE TABLE job_runs (
    job             TEXT NOT NULL,
    scheduled_tick  TIMESTAMP NOT NULL,
    claimed_by      TEXT NOT NULL,
    claimed_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (job, scheduled_tick)
);
