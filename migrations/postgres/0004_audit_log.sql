-- The audit log: every decision and refusal, append-only. Each row carries the hash of the
-- previous row, so any edit made by someone who bypasses the triggers below breaks the chain
-- and `costbot audit verify` finds it. UNIQUE (prev_hash) keeps the chain linear even with
-- concurrent writers: the second of two racing appends fails and retries on the new head.

CREATE TABLE audit_log (
    seq        BIGSERIAL PRIMARY KEY,
    at         TIMESTAMP NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    channel    TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL UNIQUE,
    hash       TEXT NOT NULL UNIQUE
);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
