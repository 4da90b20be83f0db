-- Access control that every replica must share (issue 16).
--
-- `seen_requests`: signed chat requests already handled (a Slack request's signature, a
-- Discord interaction id), kept for the platform's replay window. The primary key is the
-- claim: the replica whose INSERT lands handles the request; a replay to any replica finds
-- the row and gets nothing.
CREATE TABLE seen_requests (
    key         TEXT PRIMARY KEY,
    expires_at  TIMESTAMP NOT NULL
);

CREATE INDEX seen_requests_expiry ON seen_requests (expires_at);

-- `web_sessions`: console and dashboard sign-ins. Only the SHA-256 of the random session id
-- is stored, so reading this table does not give anyone a usable cookie; a session is live
-- until it expires or is revoked (signing out).
CREATE TABLE web_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE
);

-- `audit_checkpoints`: the last audit entry whose hash chain the dashboard verified, so the
-- next load verifies only the entries after it.
CREATE TABLE audit_checkpoints (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    seq          BIGINT NOT NULL,
    hash         TEXT NOT NULL,
    verified_at  TIMESTAMP NOT NULL
);
