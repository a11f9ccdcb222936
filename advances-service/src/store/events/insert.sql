-- Events of one transaction, in order (positions from the column's default).
INSERT INTO events (event_id, type, occurred_at, body)
SELECT e.event_id, e.type, e.occurred_at, e.body
FROM unnest(?::uuid[], ?::text[], ?::timestamptz[], ?::text[]) WITH ORDINALITY AS e(event_id, type, occurred_at, body, n)
ORDER BY n
