-- The outbox of advances events, written in the transaction of the change it
-- describes. A position is the writer's transaction id shifted left by 24
-- bits plus an ordinal from a sequence (as accounts-manager's feed): the
-- relay publishes only positions below the horizon (`event_horizon()`,
-- service-kit's), whose writers have all finished, so a row committing late is
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
