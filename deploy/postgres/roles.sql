-- costbot's two Postgres roles. Run once, as a database administrator, in costbot's database:
--
--   psql -d costbot -v migrate_password="$MIGRATE_PW" -v runtime_password="$RUNTIME_PW" -f roles.sql
--
-- costbot_migrate owns the schema: `costbot migrate` connects as it. costbot_runtime is what
-- `costbot serve` (every replica) connects as: it reads and writes costbot's tables but may
-- only SELECT and INSERT on audit_log, and owns nothing, so it can neither edit the audit
-- log nor drop or disable the triggers that keep it append-only. After every
-- `costbot migrate`, run grants.sql as costbot_migrate.

CREATE ROLE costbot_migrate LOGIN PASSWORD :'migrate_password';
CREATE ROLE costbot_runtime LOGIN PASSWORD :'runtime_password';

-- Only the migration role may create objects; nobody else (PUBLIC included) may.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO costbot_migrate;
GRANT USAGE ON SCHEMA public TO costbot_runtime;
