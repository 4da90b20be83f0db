-- Budgets (issue 20). `[[budgets]]` in the configuration gives each budget's monthly amount;
-- an approver may change it from chat (`/cost budget set NAME AMOUNT`), and that amount,
-- kept here with who set it, wins over the file's until it is changed again. The amount is
-- exact decimal text, so no budget is too large for the column and none is rounded.
CREATE TABLE budget_amounts (
    budget   TEXT PRIMARY KEY,
    amount   TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    set_at   TIMESTAMP NOT NULL
);

-- One row per budget alert that fired: `budget:<name>:<yyyy-mm>:<threshold>` or
-- `budget:<name>:<yyyy-mm>:forecast`. The row is inserted in the same transaction as the
-- alert's outbox entries and its audit record, so each threshold (and the forecast breach)
-- fires once per month per budget across replicas and restarts. The lower thresholds an
-- alert passed on the way are recorded with it (`alerted` false): reached, never announced.
CREATE TABLE budget_alerts (
    alert_key  TEXT PRIMARY KEY,
    budget     TEXT NOT NULL,
    month      DATE NOT NULL,
    kind       TEXT NOT NULL,
    alerted    BOOLEAN NOT NULL,
    fired_at   TIMESTAMP NOT NULL
);
