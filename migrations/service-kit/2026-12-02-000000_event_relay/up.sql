-- What service-kit's event relay reads and writes (`events`): the horizon
-- below which a feed's positions are final, and how far each relay has
-- published. Each service's feed (accounts-manager's transactions,
-- advances-service's outbox) numbers its rows as the horizon expects: the
-- writer's transaction id shifted left by 24 bits plus an ordinal.
-- OR REPLACE / IF NOT EXISTS: a database made before service-kit owned these
-- already has them, from its service's event migration.

-- The feed's horizon: positions below `event_horizon() << 24` are final.
-- Every writer with a smaller transaction id than it has finished, so no
-- row can appear there later. It is the least transaction id still running
-- in the reader's snapshot, less those seen running in another database
-- (which cannot write here: a long transaction elsewhere on the cluster
-- does not hold this feed back), and at most the snapshot's xmax. An id whose
-- database cannot be told (finished since, or hidden from this role: grant
-- pg_read_all_stats) counts as this database's, which only delays the feed.
-- STABLE: it sees the calling statement's snapshot.
CREATE OR REPLACE FUNCTION event_horizon() RETURNS BIGINT
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

-- How far a relay has published its feed to RabbitMQ (one row per relay).
CREATE TABLE IF NOT EXISTS event_relay (
    name              TEXT PRIMARY KEY,
    published_through BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
