-- A log of which periods each fact write replaced, so that detection keeps its series in
-- memory between runs and re-reads only those periods (12 M facts a run at 1,000 accounts and
-- 400 days, the whole of a run's time, became the few days a collection replaced).
--
-- `fact_change_head.seq` is bumped as the last statement of every transaction that replaces
-- cost or usage facts. The row lock it takes is held until commit, so sequence numbers are
-- given out in commit order and a reader that sees head N has every change up to N. The
-- writers keep the newest 10,000 changes; a reader further behind rebuilds from the facts.
CREATE TABLE fact_change_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL
);
INSERT INTO fact_change_head (id, seq) VALUES (1, 0);

CREATE TABLE fact_changes (
    seq          BIGINT PRIMARY KEY,
    granularity  TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly')),
    period_from  TIMESTAMP NOT NULL,
    period_to    TIMESTAMP NOT NULL
);
