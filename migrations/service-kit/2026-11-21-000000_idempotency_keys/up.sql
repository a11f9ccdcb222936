-- The stored outcome of every POST that carried an Idempotency-Key, written
-- in the same database transaction as the request's effect (service-kit's
-- `idempotency`). IF NOT EXISTS: a database made before service-kit owned
-- this table already has it, from its service's first migration.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key              TEXT PRIMARY KEY,
    request_hash     BYTEA NOT NULL,
    response_status  SMALLINT NOT NULL,
    response_body    TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
