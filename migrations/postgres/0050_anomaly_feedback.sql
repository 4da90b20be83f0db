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

-- A verdict is announced like an acknowledgement: the card is edited to show it.
ALTER TABLE alert_events DROP CONSTRAINT alert_events_event_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_event_check
    CHECK (event IN ('opened', 'updated', 'resolved', 'acknowledged', 'muted', 'feedback'));
