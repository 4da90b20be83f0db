-- The channel's verdicts on anomaly alerts (expected, not an anomaly, real), one per anomaly:
-- a later verdict replaces the earlier one, and the audit log keeps both. Detection reads them
-- to tune each series; `/cost anomalies stats` to measure precision.
CREATE TABLE anomaly_feedback (
    anomaly_id TEXT PRIMARY KEY REFERENCES anomalies (id),
    granularity TEXT NOT NULL,
    account_id TEXT,
    verdict TEXT NOT NULL,
    actor TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX anomaly_feedback_created_at ON anomaly_feedback (created_at);

-- A verdict is announced like an acknowledgement: the card is edited to show it. SQLite cannot
-- change a CHECK constraint, so the table is rebuilt with its rows and ids (AUTOINCREMENT
-- carries on from the largest id copied, so event ids never repeat).
CREATE TABLE alert_events_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    anomaly_id  TEXT NOT NULL REFERENCES anomalies (id),
    version     BIGINT NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('opened', 'updated', 'resolved', 'acknowledged', 'muted', 'feedback')),
    actor       TEXT,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (anomaly_id, version, event)
);
INSERT INTO alert_events_new (id, anomaly_id, version, event, actor, created_at)
    SELECT id, anomaly_id, version, event, actor, created_at FROM alert_events;
DROP TABLE alert_events;
ALTER TABLE alert_events_new RENAME TO alert_events;
