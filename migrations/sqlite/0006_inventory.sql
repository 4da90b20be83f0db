-- The resource inventory: every EC2 instance, EBS volume, Elastic IP and RDS instance that
-- waste discovery has seen, one row per resource. A run replaces one (account, region) at a
-- time: rows it saw are updated (first_seen kept), rows it no longer sees get gone_at, so a
-- finding can always be traced to when the resource was first and last seen.

CREATE TABLE inventory (
    account_id          TEXT NOT NULL,
    region              TEXT NOT NULL,
    kind                TEXT NOT NULL,
    resource_id         TEXT NOT NULL,
    state               TEXT NOT NULL,
    -- The domain Resource as JSON (tags, activity, dependencies, price estimate).
    record              TEXT NOT NULL,
    -- The estimated monthly cost in 10^-10 USD, NULL when the price is unknown.
    monthly_cost_units  BIGINT,
    first_seen          TIMESTAMP NOT NULL,
    last_seen           TIMESTAMP NOT NULL,
    gone_at             TIMESTAMP,
    PRIMARY KEY (account_id, region, kind, resource_id)
);

CREATE INDEX inventory_present ON inventory (gone_at);
