-- The committed transactions after a position, in feed order. Only positions
-- below the snapshot's xmin (shifted as positions are) are handed out: every
-- writer with a smaller transaction id has finished, so no row can appear
-- later at a position below one read now, however writers commit.
SELECT position, id, kind, status, reason, amount, currency, from_account_id, to_account_id,
       order_id, service_id, reference, description, created_at, created_by,
       reverses, reversed_amount
FROM transactions
WHERE position > ?
  AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 24)
ORDER BY position
LIMIT ?
