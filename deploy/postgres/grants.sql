-- The runtime role's privileges on costbot's tables. Idempotent: run it as costbot_migrate
-- (the owner of every table) after every `costbot migrate`, so tables added by a migration
-- are covered too:
--
--   psql "postgres://costbot_migrate@…/costbot" -f grants.sql
--
-- costbot_runtime may read and write every table costbot uses, except that audit_log is
-- append-only for it: SELECT and INSERT, nothing else. It owns no table, so it cannot drop
-- audit_log, its triggers or their function, nor disable the triggers (ALTER TABLE needs the
-- owner). Appends take a transaction-scoped advisory lock, which needs no privilege.

GRANT USAGE ON SCHEMA public TO costbot_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO costbot_runtime;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO costbot_runtime;

REVOKE ALL ON audit_log FROM costbot_runtime;
GRANT SELECT, INSERT ON audit_log TO costbot_runtime;

-- /readyz compares the applied migrations with the binary's; it only reads them.
REVOKE ALL ON _sqlx_migrations FROM costbot_runtime;
GRANT SELECT ON _sqlx_migrations TO costbot_runtime;
