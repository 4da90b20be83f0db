-- The outbox: every message that must reach a chat channel is written here first, so a crash
-- or a chat outage delays it but never loses it.
--
-- A thread is "the message about one thing in one channel" (an anomaly's alert card). The
-- first delivery posts it and records the platform's message id; later ones edit it in place.
-- A thread's lease serialises delivery across replicas.

CREATE TABLE chat_threads (
    platform      TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    thread_key    TEXT NOT NULL,
    message_id    TEXT,
    locked_until  TIMESTAMP,
    PRIMARY KEY (platform, channel_id, thread_key)
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key       TEXT NOT NULL UNIQUE,
    platform         TEXT NOT NULL,
    channel_id       TEXT NOT NULL,
    thread_key       TEXT NOT NULL,
    message          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'superseded')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- How far each consumer has read an event stream (alert events → outbox).
CREATE TABLE cursors (
    name      TEXT PRIMARY KEY,
    position  BIGINT NOT NULL
);
