-- Stored JSON records carry their format version: `{"v": 1, ...}`. The records are now the
-- store's own types (src/store/record), not the domain types' serde form, so a renamed field in
-- the domain no longer changes what is in the database; the version says how to read a row.
-- Version 1 is exactly the shape rows had before this migration, so existing rows only gain
-- the `v` key.

UPDATE proposals SET record = json_set(record, '$.v', 1)
WHERE json_type(record, '$.v') IS NULL;

UPDATE console_messages SET message = json_set(message, '$.v', 1)
WHERE json_type(message, '$.v') IS NULL;

UPDATE outbox SET message = json_set(message, '$.v', 1)
WHERE json_type(message, '$.v') IS NULL;
