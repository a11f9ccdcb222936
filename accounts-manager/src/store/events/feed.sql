-- The committed transactions after a position, in feed order, below a
-- bound: the horizon (`event_horizon()`, service-kit's migration) read
-- first, so that this and the account events' query hand out the same final
-- stretch of the feed. Every writer below it has finished, so no row can
-- appear later at a position below one read now, however writers commit.
SELECT position, id, kind, status, reason, amount, currency, from_account_id, to_account_id,
       order_id, service_id, reference, description, created_at, created_by,
       reverses, reversed_amount, metadata, rate, converted_amount, converted_currency
FROM transactions
WHERE position > ?
  AND position < ?
ORDER BY position
LIMIT ?
