-- Stored JSON records carry their format version: `{"v": 1, ...}`. The records are now the
-- store's own types (src/store/record), not the domain types' serde form, so a renamed field in
-- the domain no longer changes what is in the database; the version says how to read a row.
-- Version 1 is exactly the shape rows had before this migration, so existing rows only gain
-- the `v` key. (jsonb may reorder keys; the reader does not care about order.)

UPDATE proposals SET record = (record::jsonb || '{"v": 1}'::jsonb)::text
WHERE NOT (record::jsonb ? 'v');

UPDATE console_messages SET message = (message::jsonb || '{"v": 1}'::jsonb)::text
WHERE NOT (message::jsonb ? 'v');

UPDATE outbox SET message = (message::jsonb || '{"v": 1}'::jsonb)::text
WHERE NOT (message::jsonb ? 'v');
