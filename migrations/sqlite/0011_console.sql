-- The local chat console (`costbot demo`, and the web console of `costbot serve`): every
-- message costbot shows in a console channel, stored so that any replica can serve the page.
--
-- `seq` orders changes: a post or an edit takes the next value from `console_seq` in the same
-- transaction as its write. The counter row stays locked until that transaction commits, so
-- changes become visible in `seq` order and a page polling "changes after N" never skips one.

CREATE TABLE console_seq (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    value  BIGINT NOT NULL
);

INSERT INTO console_seq (id, value) VALUES (1, 0);

CREATE TABLE console_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id  TEXT NOT NULL,
    -- NULL: costbot said it; otherwise the console user who typed it.
    author      TEXT,
    -- NULL: everyone in the channel sees it; otherwise only this user (an ephemeral reply).
    visible_to  TEXT,
    -- The neutral message model as JSON; the console renders it to HTML when served.
    message     TEXT NOT NULL,
    seq         BIGINT NOT NULL UNIQUE,
    posted_at   TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE INDEX console_messages_changes ON console_messages (channel_id, seq);
