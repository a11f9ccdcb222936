-- One page of the dead letters whose writer had committed when snapshot $1
-- was taken, oldest first.
SELECT id, body, reason, received_at, replayed_at
FROM dead_letters
WHERE pg_visible_in_snapshot(xid::text::xid8, $1::pg_snapshot)
ORDER BY received_at, id
LIMIT $2 OFFSET $3
