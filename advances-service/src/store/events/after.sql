-- The committed events after a position, in order. Only positions below the
-- snapshot's xmin (shifted as positions are): every writer with a smaller
-- transaction id has finished, so no event can appear later before these.
SELECT position, event_id, type, occurred_at, body
FROM events
WHERE position > ?
  AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 24)
ORDER BY position
LIMIT ?
