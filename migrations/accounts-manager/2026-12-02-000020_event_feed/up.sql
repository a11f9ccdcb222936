-- The event feed: every committed transaction is an event, at a position
-- that orders the feed. A position is the writer's transaction id shifted
-- left by 24 bits plus an ordinal within that writer (from a sequence), so
-- it is known at insert time and costs no second write. The feed only hands
-- out positions below its horizon (`event_horizon()`, below) shifted the
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

-- The feed's horizon: positions below `event_horizon() << 24` are final.
-- Every writer with a smaller transaction id than it has finished, so no
-- row can appear there later. It is the least transaction id still running
-- in the reader's snapshot, less those seen running in another database
-- (which cannot write here: a long transaction elsewhere on the cluster
-- does not hold this feed back), and at most the snapshot's xmax. An id whose
-- database cannot be told (finished since, or hidden from this role: grant
-- pg_read_all_stats) counts as this database's, which only delays the feed.
-- STABLE: it sees the calling statement's snapshot.
CREATE FUNCTION event_horizon() RETURNS BIGINT
LANGUAGE sql STABLE AS $$
    SELECT LEAST(
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
        (SELECT min(x::text::bigint)
         FROM pg_snapshot_xip(pg_current_snapshot()) AS x
         WHERE (x::text::bigint % 4294967296) NOT IN (
             SELECT backend_xid::text::bigint
             FROM pg_stat_activity
             WHERE backend_xid IS NOT NULL
               AND datname IS DISTINCT FROM current_database())))
$$;

-- How far the relay has published the feed to RabbitMQ (one row per relay).
CREATE TABLE event_relay (
    name              TEXT PRIMARY KEY,
    published_through BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
