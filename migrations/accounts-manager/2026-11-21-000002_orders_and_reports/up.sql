-- Holds for orders, and the indexes behind history, the report and the revenue CSV.

CREATE TABLE reservations (
    order_id      BIGINT PRIMARY KEY CHECK (order_id > 0),
    account_id    UUID NOT NULL REFERENCES accounts (id),
    service_id    BIGINT NOT NULL CHECK (service_id > 0),
    service_name  TEXT,
    amount        NUMERIC(28, 2) NOT NULL CHECK (amount > 0),
    currency      TEXT NOT NULL,
    -- reserved -> captured | released, and nothing else: the code moves a row
    -- only from 'reserved', under its row lock.
    status        TEXT NOT NULL CHECK (status IN ('reserved', 'captured', 'released')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE transactions ADD COLUMN service_name TEXT;

-- History by amount (by date uses the (account, created_at, id) indexes).
CREATE INDEX transactions_from_account_amount ON transactions (from_account_id, amount, created_at, id)
    WHERE from_account_id IS NOT NULL;
CREATE INDEX transactions_to_account_amount ON transactions (to_account_id, amount, created_at, id)
    WHERE to_account_id IS NOT NULL;
-- The report filtered by status.
CREATE INDEX transactions_by_status_time ON transactions (status, created_at, id);
-- The revenue CSV: an index-only aggregate over one month of captures.
CREATE INDEX transactions_captures ON transactions (currency, created_at)
    INCLUDE (service_id, service_name, amount)
    WHERE kind = 'capture' AND status = 'success';
