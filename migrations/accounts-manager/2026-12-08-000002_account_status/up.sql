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
