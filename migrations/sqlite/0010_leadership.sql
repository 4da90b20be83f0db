-- Leadership: one row per named lease (costbot uses `leader`). The holder runs the scheduled
-- jobs until `expires_at`, renewing well before then. On SQLite (one process, one machine) the
-- times come from SQLite's own clock; on Postgres from the database's, so replicas' clocks never
-- matter.
-- `term` grows by one every time the lease changes hands; a scheduled tick is claimed only
-- by the holder of the current term (see `LeaseStore::claim_tick_as_leader`).

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    term         BIGINT NOT NULL CHECK (term >= 1),
    acquired_at  TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
