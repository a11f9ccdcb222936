-- A caller's labels on accounts and transactions: a JSON object of strings,
-- NULL when there are none (so a row without labels costs no index entry).
ALTER TABLE accounts ADD COLUMN metadata JSONB;
ALTER TABLE transactions ADD COLUMN metadata JSONB;

-- Search by labels: `metadata @> '{"key": "value", ...}'`, one GIN entry per
-- key and value of a labelled row (jsonb_path_ops: the smaller, containment-only
-- index).
CREATE INDEX transactions_by_metadata ON transactions USING gin (metadata jsonb_path_ops)
    WHERE metadata IS NOT NULL;
CREATE INDEX accounts_by_metadata ON accounts USING gin (metadata jsonb_path_ops)
    WHERE metadata IS NOT NULL;

-- Search by the caller's reference, newest first, read in order.
CREATE INDEX transactions_by_reference ON transactions (reference, created_at, id)
    WHERE reference IS NOT NULL;

-- The writer of each account opened from now on, so that the accounts
-- listing pins a snapshot as the ledger's listings do (NULL: opened before
-- this migration, seen by every snapshot).
ALTER TABLE accounts ADD COLUMN xid BIGINT;
ALTER TABLE accounts ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint);
-- The accounts listing, oldest first.
CREATE INDEX accounts_by_time ON accounts (created_at, id) WHERE kind = 'user';
