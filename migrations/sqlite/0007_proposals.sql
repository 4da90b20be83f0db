-- Savings proposals. A proposal is one JSON record (the domain type) plus the columns queries
-- filter on. Every change is a compare-and-swap on `version`, which is also how the execution
-- worker claims an approved proposal: exactly one claimer's UPDATE matches.

CREATE TABLE proposals (
    id           TEXT PRIMARY KEY,
    version      BIGINT NOT NULL CHECK (version >= 1),
    state        TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    record       TEXT NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE INDEX proposals_by_state ON proposals (state, updated_at);
