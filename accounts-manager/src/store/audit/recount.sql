-- The full recount: every entry of the ledger summed per account and
-- compared with every account's balance and reserved part, system accounts
-- included. The accounts that differ.
WITH posted AS (
    SELECT account_id,
           COALESCE(SUM(amount) FILTER (WHERE bucket = 'balance'), 0) AS balance,
           COALESCE(SUM(amount) FILTER (WHERE bucket = 'reserved'), 0) AS reserved
    FROM entries
    GROUP BY account_id
)
SELECT a.id
FROM accounts a
LEFT JOIN posted p ON p.account_id = a.id
WHERE a.balance <> COALESCE(p.balance, 0) OR a.reserved <> COALESCE(p.reserved, 0)
ORDER BY a.id
