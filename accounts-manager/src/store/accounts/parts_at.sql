-- An account's balance and reserved part right after the latest transaction
-- that named it with created_at <= $2 (none: no row). One backward probe of
-- each side's (account, created_at, id) index, however long the history.
SELECT balance, reserved
FROM (
    (SELECT created_at, id, from_balance_after AS balance, from_reserved_after AS reserved
     FROM transactions
     WHERE from_account_id = $1 AND created_at <= $2
     ORDER BY created_at DESC, id DESC
     LIMIT 1)
    UNION ALL
    (SELECT created_at, id, to_balance_after, to_reserved_after
     FROM transactions
     WHERE to_account_id = $1 AND created_at <= $2
     ORDER BY created_at DESC, id DESC
     LIMIT 1)
) AS latest
ORDER BY created_at DESC, id DESC
LIMIT 1
