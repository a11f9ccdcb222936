-- The committed events after a position, in order. Only positions below the
-- horizon (see `event_horizon()` in the migration): every writer with a
-- smaller transaction id has finished, so no event can appear later before
-- these.
SELECT position, event_id, type, occurred_at, body
FROM events
WHERE position > ?
  AND position < (event_horizon() << 24)
ORDER BY position
LIMIT ?
