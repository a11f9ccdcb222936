-- The event feed: every committed transaction is an event, at a position
-- that orders the feed. A position is the writer's transaction id shifted
-- left by 24 bits plus an ordinal within that writer (from a sequence), so
-- it is known at insert time and costs no second write. The feed only hands
-- out positions below its horizon (`event_horizon()`, service-kit's) shifted the
-- same way: every writer with a smaller transaction id has finished, so no
-- row can ever appear at a position below one already handed out, however
-- writers commit.
CREATE SEQUENCE transactions_ordinal CACHE 1000;

ALTER TABLE transactions ADD COLUMN position BIGINT;

UPDATE transactions AS t
SET position = (t.xid << 24) | n.ordinal
FROM (SELECT id, row_number() OVER (PARTITION BY xid ORDER BY created_at, id) AS ordinal
      FROM transactions) AS n
WHERE n.id = t.id;

ALTER TABLE transactions
    ALTER COLUMN position SET DEFAULT
        ((pg_current_xact_id()::text::bigint << 24) | (nextval('transactions_ordinal') & 16777215)),
    ALTER COLUMN position SET NOT NULL;

CREATE UNIQUE INDEX transactions_by_position ON transactions (position);
