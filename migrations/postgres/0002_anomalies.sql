-- Anomalies and the alert events the chat adapters render. An anomaly is one JSON record
-- (the domain type, amounts as exact decimal strings) plus the columns queries filter on.

CREATE TABLE anomalies (
    id            TEXT PRIMARY KEY,
    granularity   TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    account_id    TEXT,
    service       TEXT,
    status        TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    version       BIGINT NOT NULL CHECK (version >= 1),
    period_start  TIMESTAMP NOT NULL,
    impact_units  BIGINT NOT NULL,
    record        TEXT NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE INDEX anomalies_by_status ON anomalies (status, granularity);

-- One row per announcement-worthy change; (anomaly, version, event) is unique so a change
-- applied twice (a retried run, two replicas) is recorded once.
CREATE TABLE alert_events (
    id          BIGSERIAL PRIMARY KEY,
    anomaly_id  TEXT NOT NULL REFERENCES anomalies (id),
    version     BIGINT NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('opened', 'updated', 'resolved', 'acknowledged', 'muted')),
    actor       TEXT,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (anomaly_id, version, event)
);
