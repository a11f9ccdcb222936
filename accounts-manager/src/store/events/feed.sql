-- The committed transactions after a position, in feed order. Only positions
-- below the horizon (see `event_horizon()` in the migration) are handed out:
-- every writer with a smaller transaction id has finished, so no row can
-- appear later at a position below one read now, however writers commit.
SELECT position, id, kind, status, reason, amount, currency, from_account_id, to_account_id,
       order_id, service_id, reference, description, created_at, created_by,
       reverses, reversed_amount, metadata
FROM transactions
WHERE position > ?
  AND position < (event_horizon() << 24)
ORDER BY position
LIMIT ?
