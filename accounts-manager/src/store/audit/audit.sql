-- The audit's fast checks, per currency, in one pass over the accounts
-- (joined to their heads), whatever the length of the ledger:
-- * total: the sum of every account, system accounts included (always zero);
-- * negative_accounts: user accounts below zero;
-- * latest_posting_mismatches: user accounts whose balance or reserved part
--   differs from the parts the engine recorded right after applying the
--   account's latest transaction (account_heads; zero without any);
-- * recount_mismatches: accounts the latest full recount of the entries
--   found off (see recount.sql);
-- * entry_mismatches: accounts either of the two finds off.
WITH recount AS (
    SELECT mismatched FROM audit_recounts ORDER BY id DESC LIMIT 1
),
checked AS (
    SELECT a.currency, a.kind, a.balance, a.reserved,
           a.kind = 'user'
               AND (a.balance <> COALESCE(h.balance, 0)
                    OR a.reserved <> COALESCE(h.reserved, 0)) AS off_latest,
           a.id = ANY (COALESCE((SELECT mismatched FROM recount), '{}')) AS off_recount
    FROM accounts a
    LEFT JOIN account_heads h ON h.account_id = a.id
)
SELECT currency,
       SUM(balance + reserved) AS total,
       COUNT(*) FILTER (WHERE kind = 'user' AND (balance < 0 OR reserved < 0)) AS negative_accounts,
       COUNT(*) FILTER (WHERE off_latest OR off_recount) AS entry_mismatches,
       COUNT(*) FILTER (WHERE off_latest) AS latest_posting_mismatches,
       COUNT(*) FILTER (WHERE off_recount) AS recount_mismatches
FROM checked
GROUP BY currency
ORDER BY currency
