-- Who holds a thread's delivery lease (see the Postgres migration).

ALTER TABLE chat_threads ADD COLUMN lock_token TEXT;
