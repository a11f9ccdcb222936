-- The audit summed every entry of the ledger on each call (seconds at ten
-- million transactions). Now each call runs fast checks, and the full
-- recount of the entries runs in the background.

-- Each user account's latest transaction and the account's balance and
-- reserved parts right after it (the same parts that transaction records in
-- its *_after columns), written by the ledger engine in the same statement as
-- the balances (store/batch/write.sql). The fast check compares every account
-- with its row: one join, whatever the length of the ledger. No foreign keys:
-- they would cost every batch a lookup per account, and the audit reads the
-- table only joined to accounts. Each row is rewritten by every batch that
-- moves its account: room left on each page lets Postgres update it in place
-- (a HOT update, no new index entry).
CREATE TABLE account_heads (
    account_id      UUID PRIMARY KEY,
    transaction_id  UUID NOT NULL,
    balance         NUMERIC(28, 2) NOT NULL,
    reserved        NUMERIC(28, 2) NOT NULL
) WITH (fillfactor = 80);

-- Recomputes every head from the transactions: the backfill below, and an
-- operator's repair. Locks the table against the engine meanwhile (a batch
-- that has written to it commits before, one that has not waits until
-- after). Call it in a READ COMMITTED transaction (the default).
CREATE FUNCTION rebuild_account_heads() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE account_heads IN EXCLUSIVE MODE;
    DELETE FROM account_heads;
    INSERT INTO account_heads (account_id, transaction_id, balance, reserved)
    SELECT DISTINCT ON (account) account, id, balance, reserved
    FROM (
        SELECT from_account_id AS account, id, created_at,
               from_balance_after AS balance, from_reserved_after AS reserved
        FROM transactions WHERE from_account_id IS NOT NULL
        UNION ALL
        SELECT to_account_id, id, created_at, to_balance_after, to_reserved_after
        FROM transactions WHERE to_account_id IS NOT NULL
    ) AS sides
    ORDER BY account, created_at DESC, id DESC;
END
$$;

SELECT rebuild_account_heads();

-- The results of the full recount (every entry of the ledger summed per
-- account and compared with every account), which runs every
-- AUDIT_INTERVAL. The audit reports the latest.
CREATE TABLE audit_recounts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- When the recount's transaction began: everything committed before it
    -- is in the recount's snapshot.
    checked_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    -- The accounts whose balance or reserved part differed from the sum of
    -- their entries (none, in a healthy ledger).
    mismatched   UUID[] NOT NULL
);
