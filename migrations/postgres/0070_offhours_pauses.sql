-- Paused off-hours schedules (issue 19). A schedule is an approved proposal; while it has a
-- row here, its switches are skipped (and audited as skipped) until `paused_until`, or until
-- someone resumes it when that is NULL. Resuming deletes the row; pausing again replaces it.
CREATE TABLE offhours_pauses (
    schedule_id   TEXT PRIMARY KEY,
    paused_until  TIMESTAMP NULL,
    paused_by     TEXT NOT NULL,
    paused_at     TIMESTAMP NOT NULL
);
