-- Access control: the API keys made at run time (the secret only as its
-- SHA-256; the bootstrap keys of API_TOKENS are configuration, not rows), and
-- the index the idempotency sweeper deletes old stored answers by.

CREATE TABLE api_keys (
    id            UUID PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    secret_hash   BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    scopes        TEXT[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    -- Written at most once a minute per key, not on every request.
    last_used_at  TIMESTAMPTZ
);

CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys (created_at);
