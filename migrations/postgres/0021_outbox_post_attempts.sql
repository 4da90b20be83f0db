-- When a thread was first claimed for posting while it had no message yet. A later claim
-- that still finds no message id knows an earlier post may have reached the platform (the
-- worker crashed, or the answer was lost) and asks the platform before posting again.

ALTER TABLE chat_threads ADD COLUMN post_started_at TIMESTAMP;
