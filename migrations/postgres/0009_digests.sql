-- Daily digests: one row per channel and local date, inserted in the same transaction as the
-- digest's outbox entry. The primary key is what makes "exactly one digest per channel per
-- day" hold across replicas, restarts and catch-up runs.
CREATE TABLE digests (
    platform      TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    digest_date   DATE NOT NULL,
    data_day      DATE NOT NULL,
    scheduled_at  TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    late          BOOLEAN NOT NULL,
    PRIMARY KEY (platform, channel_id, digest_date)
);
