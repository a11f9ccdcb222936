-- One page of the dead letters whose writer had committed when snapshot $1
-- was taken, oldest first: $3 rows in, or after the key ($4, $5) of a
-- cursor (the plan is made for the values given, so either is an index range).
SELECT id, body, reason, received_at, replayed_at
FROM dead_letters
WHERE pg_visible_in_snapshot(xid::text::xid8, $1::pg_snapshot)
  AND ($4::timestamptz IS NULL OR (received_at, id) > ($4, $5::uuid))
ORDER BY received_at, id
LIMIT $2 OFFSET $3
