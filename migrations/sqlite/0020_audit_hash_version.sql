-- Audit entries record the hash scheme they were written with (see the Postgres migration).

ALTER TABLE audit_log ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
