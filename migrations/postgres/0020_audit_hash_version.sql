-- Audit entries record the hash scheme they were written with. Version 2 hashes the entry's
-- sequence number and tells an absent channel from an empty one; the appender numbers entries
-- itself under a lock. Rows already written keep version 1: the table is append-only, so they
-- are verified with the scheme they were hashed with, never rewritten.

ALTER TABLE audit_log ADD COLUMN hash_version SMALLINT NOT NULL DEFAULT 1;
