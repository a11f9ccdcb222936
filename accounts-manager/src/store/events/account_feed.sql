-- The account events after a position, in feed order, below the same bound
-- as the transactions' (see feed.sql).
SELECT position, event_id, type AS kind, occurred_at, account
FROM account_events
WHERE position > ?
  AND position < ?
ORDER BY position
LIMIT ?
