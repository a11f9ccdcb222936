-- Every job the worker dead-letters, kept as it was received, so that an
-- operator can list and replay them.
CREATE TABLE dead_letters (
    id           UUID PRIMARY KEY,
    body         BYTEA NOT NULL,
    reason       TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at  TIMESTAMPTZ,
    -- The writer's transaction, for snapshot-stable listings.
    xid          BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
CREATE INDEX dead_letters_by_time ON dead_letters (received_at, id);
