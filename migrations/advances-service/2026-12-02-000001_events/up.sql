-- The outbox of advances events, written in the transaction of the change it
-- describes. A position is the writer's transaction id shifted left by 24
-- bits plus an ordinal from a sequence (as accounts-manager's feed): the
-- relay publishes only positions below the horizon (`event_horizon()`,
-- below), whose writers have all finished, so a row committing late is
-- never passed over. Rows are
-- deleted once RabbitMQ has confirmed them.
CREATE SEQUENCE events_ordinal CACHE 100;

CREATE TABLE events (
    position    BIGINT PRIMARY KEY DEFAULT
        ((pg_current_xact_id()::text::bigint << 24) | (nextval('events_ordinal') & 16777215)),
    event_id    UUID NOT NULL,
    type        TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    -- The whole message body, as published.
    body        TEXT NOT NULL
);

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

-- How far the relay has published the outbox (one row per relay).
CREATE TABLE event_relay (
    name              TEXT PRIMARY KEY,
    published_through BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
