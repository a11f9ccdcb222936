-- The double-entry self-check, per currency: the sum of every account
-- (always zero), user accounts below zero, and accounts whose balance or
-- reserved part differs from the sum of their entries.
WITH posted AS (
    SELECT account_id,
           COALESCE(SUM(amount) FILTER (WHERE bucket = 'balance'), 0) AS balance,
           COALESCE(SUM(amount) FILTER (WHERE bucket = 'reserved'), 0) AS reserved
    FROM entries
    GROUP BY account_id
)
SELECT a.currency,
       SUM(a.balance + a.reserved) AS total,
       COUNT(*) FILTER (WHERE a.kind = 'user' AND (a.balance < 0 OR a.reserved < 0)) AS negative_accounts,
       COUNT(*) FILTER (WHERE a.balance <> COALESCE(p.balance, 0)
                           OR a.reserved <> COALESCE(p.reserved, 0)) AS entry_mismatches
FROM accounts a
LEFT JOIN posted p ON p.account_id = a.id
GROUP BY a.currency
ORDER BY a.currency
