-- When a thread was first claimed for posting while it had no message yet (see the Postgres
-- migration).

ALTER TABLE chat_threads ADD COLUMN post_started_at TIMESTAMP;
