-- Spend per account by one value of a cost allocation tag (`team`) or a cost category
-- (`BusinessUnit`), for `/cost … by tag:team`, `team=payments` filters and tag-scoped
-- channels. Cost Explorer groups by at most two dimensions, so each key is its own query
-- (LINKED_ACCOUNT × TAG or COST_CATEGORY) and its rows live apart from cost_facts: a key's
-- values add up to the facts' total, and summing across keys would double-count.
-- `value` is '' for spend without the tag (Cost Explorer's `team$`), kept as its own row.

CREATE TABLE cost_tags (
    granularity        TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_start       TIMESTAMP NOT NULL,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    kind               TEXT NOT NULL CHECK (kind IN ('tag', 'category')),
    tag_key            TEXT NOT NULL,
    value              TEXT NOT NULL,
    amount_units       BIGINT NOT NULL,
    estimated          BOOLEAN NOT NULL,
    source_account_id  TEXT NOT NULL,
    collected_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (granularity, kind, tag_key, period_start, account_id, value)
);

CREATE INDEX cost_tags_by_source ON cost_tags (source_account_id, kind, tag_key, collected_at);
CREATE INDEX cost_tags_by_value ON cost_tags (kind, tag_key, value, period_start);
