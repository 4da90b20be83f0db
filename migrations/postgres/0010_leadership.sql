-- Leadership: one row per named lease (costbot uses `leader`). The holder runs the scheduled
-- jobs until `expires_at`, renewing well before then. Times come from the database's own clock
-- (now() in UTC), so clock skew between replicas cannot give two of them the lease at once.
-- `term` grows by one every time the lease changes hands; a scheduled tick is claimed only
-- by the holder of the current term (see `LeaseStore::claim_tick_as_leader`).

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    term         BIGINT NOT NULL CHECK (term >= 1),
    acquired_at  TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
