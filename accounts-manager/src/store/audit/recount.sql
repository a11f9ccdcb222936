-- The full recount: every entry of the ledger summed per account and
-- compared with every account's balance and reserved part, system accounts
-- included. The accounts that differ, and the accounts named by entries that
-- no foreign key checks any more (see the migration
-- entries_checked_by_the_recount): an entry naming no account (its account
-- id is answered, though no account has it) or no transaction (its account
-- is answered: money moved with no transaction to show for it).
WITH posted AS (
    SELECT account_id,
           COALESCE(SUM(amount) FILTER (WHERE bucket = 'balance'), 0) AS balance,
           COALESCE(SUM(amount) FILTER (WHERE bucket = 'reserved'), 0) AS reserved
    FROM entries
    GROUP BY account_id
),
unrecorded AS (
    SELECT e.account_id
    FROM entries e
    WHERE NOT EXISTS (SELECT FROM transactions t WHERE t.id = e.transaction_id)
)
SELECT COALESCE(a.id, p.account_id) AS id
FROM accounts a
FULL JOIN posted p ON p.account_id = a.id
WHERE a.id IS NULL
   OR a.balance <> COALESCE(p.balance, 0)
   OR a.reserved <> COALESCE(p.reserved, 0)
UNION
SELECT account_id FROM unrecorded
ORDER BY id
