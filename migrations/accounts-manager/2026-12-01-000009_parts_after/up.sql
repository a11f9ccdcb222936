-- Each transaction keeps the balance and reserved part of its from and to
-- user accounts right after it (TigerBeetle's account history keeps the
-- same): an account's parts at a time are then the latest transaction that
-- named it up to that time, one probe of each side's (account, created_at,
-- id) index, however long its history.
ALTER TABLE transactions
    ADD COLUMN from_balance_after NUMERIC(28, 2),
    ADD COLUMN from_reserved_after NUMERIC(28, 2),
    ADD COLUMN to_balance_after NUMERIC(28, 2),
    ADD COLUMN to_reserved_after NUMERIC(28, 2);

-- The history written before: every posting to a user account is in a
-- transaction that names it, so running sums of its entries in transaction
-- order give its parts after each one.
WITH named AS (
    SELECT t.id, t.created_at, s.side, s.account
    FROM transactions t
    CROSS JOIN LATERAL (VALUES ('from', t.from_account_id), ('to', t.to_account_id)) AS s(side, account)
    WHERE s.account IS NOT NULL
),
moved AS (
    SELECT transaction_id, account_id,
           sum(amount) FILTER (WHERE bucket = 'balance') AS balance,
           sum(amount) FILTER (WHERE bucket = 'reserved') AS reserved
    FROM entries
    GROUP BY transaction_id, account_id
),
running AS (
    SELECT n.id, n.side,
           sum(COALESCE(m.balance, 0)) OVER w AS balance,
           sum(COALESCE(m.reserved, 0)) OVER w AS reserved
    FROM named n
    LEFT JOIN moved m ON m.transaction_id = n.id AND m.account_id = n.account
    WINDOW w AS (PARTITION BY n.account ORDER BY n.created_at, n.id, n.side)
),
sides AS (
    SELECT id,
           max(balance) FILTER (WHERE side = 'from') AS from_balance,
           max(reserved) FILTER (WHERE side = 'from') AS from_reserved,
           max(balance) FILTER (WHERE side = 'to') AS to_balance,
           max(reserved) FILTER (WHERE side = 'to') AS to_reserved
    FROM running
    GROUP BY id
)
UPDATE transactions t
SET from_balance_after = s.from_balance, from_reserved_after = s.from_reserved,
    to_balance_after = s.to_balance, to_reserved_after = s.to_reserved
FROM sides s
WHERE t.id = s.id;
