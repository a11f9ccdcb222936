-- An account's standing: `frozen` takes money in but lets none out of its
-- balance, `closed` (only when empty) is for good. The engine checks both
-- under the account's lock; the reason is kept while not active.
ALTER TABLE accounts
    ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'frozen', 'closed')),
    ADD COLUMN status_reason TEXT,
    ADD CONSTRAINT closed_accounts_are_empty
        CHECK (status <> 'closed' OR (balance = 0 AND reserved = 0)),
    ADD CONSTRAINT a_reason_while_not_active
        CHECK ((status = 'active') = (status_reason IS NULL));

-- Events of accounts (`account.frozen`, `account.unfrozen`, `account.closed`),
-- written in the transaction of the change, in the same feed as the
-- transactions: positions from the same writer id and the same ordinal
-- sequence (so no two rows of the two tables share one), handed out below
-- the same horizon (`event_horizon()`).
CREATE TABLE account_events (
    position    BIGINT PRIMARY KEY DEFAULT
        ((pg_current_xact_id()::text::bigint << 24) | (nextval('transactions_ordinal') & 16777215)),
    event_id    UUID NOT NULL UNIQUE,
    type        TEXT NOT NULL CHECK (type IN ('account.frozen', 'account.unfrozen', 'account.closed')),
    occurred_at TIMESTAMPTZ NOT NULL,
    -- The Account as it stood after the change, as the API answers it.
    account     JSONB NOT NULL
);
