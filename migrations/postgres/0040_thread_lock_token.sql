-- Who holds a thread's delivery lease: a random token set by each claim. Finishing a
-- delivery releases the lease only while the token is still the caller's, so a worker whose
-- lease ran out (and was taken by another replica) cannot release the new holder's lease.

ALTER TABLE chat_threads ADD COLUMN lock_token TEXT;
