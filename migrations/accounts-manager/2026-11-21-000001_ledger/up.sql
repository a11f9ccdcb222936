-- The double-entry ledger: accounts, the transactions that move money between
-- them, the entries each transaction posts, and the idempotency keys of POSTs.

CREATE TABLE accounts (
    id          UUID PRIMARY KEY,
    -- 'user' accounts belong to a caller's user; 'external' (money from and to
    -- the outside world) and 'revenue' (captured order money) are the system
    -- accounts, one of each per currency.
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'external', 'revenue')),
    user_id     BIGINT CHECK (user_id > 0),
    currency    TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance     NUMERIC(28, 2) NOT NULL DEFAULT 0,
    reserved    NUMERIC(28, 2) NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT user_account_has_user CHECK ((kind = 'user') = (user_id IS NOT NULL)),
    -- The database itself refuses to let a user account go below zero.
    CONSTRAINT user_balance_not_negative CHECK (kind <> 'user' OR balance >= 0),
    CONSTRAINT user_reserved_not_negative CHECK (kind <> 'user' OR reserved >= 0)
);

CREATE UNIQUE INDEX accounts_one_system_account_per_currency
    ON accounts (kind, currency) WHERE kind <> 'user';
CREATE INDEX accounts_by_user ON accounts (user_id, currency, created_at, id)
    WHERE kind = 'user';

CREATE TABLE transactions (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL
        CHECK (kind IN ('deposit', 'withdrawal', 'transfer', 'reservation', 'release', 'capture')),
    status           TEXT NOT NULL CHECK (status IN ('success', 'failed')),
    reason           TEXT,
    amount           NUMERIC(28, 2) NOT NULL CHECK (amount > 0),
    currency         TEXT NOT NULL,
    -- The user accounts the money left and reached; NULL stands for a system
    -- account (the outside world or revenue), whose id is in the entries.
    from_account_id  UUID REFERENCES accounts (id),
    to_account_id    UUID REFERENCES accounts (id),
    order_id         BIGINT,
    service_id       BIGINT,
    reference        TEXT,
    description      TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The id of the database transaction that wrote the row; the report pins a
    -- snapshot by testing it with pg_visible_in_snapshot, which is correct even
    -- when writers commit out of the order their rows were created in.
    xid              BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    CONSTRAINT failed_has_reason CHECK ((status = 'failed') = (reason IS NOT NULL))
);

CREATE INDEX transactions_from_account ON transactions (from_account_id, created_at, id)
    WHERE from_account_id IS NOT NULL;
CREATE INDEX transactions_to_account ON transactions (to_account_id, created_at, id)
    WHERE to_account_id IS NOT NULL;
CREATE INDEX transactions_by_time ON transactions (created_at, id);

-- One row per account and bucket a transaction touches; amounts are signed and
-- the entries of one transaction add up to zero.
CREATE TABLE entries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  UUID NOT NULL REFERENCES transactions (id),
    account_id      UUID NOT NULL REFERENCES accounts (id),
    bucket          TEXT NOT NULL CHECK (bucket IN ('balance', 'reserved')),
    amount          NUMERIC(28, 2) NOT NULL CHECK (amount <> 0)
);

CREATE INDEX entries_by_account ON entries (account_id);
CREATE INDEX entries_by_transaction ON entries (transaction_id);

