-- What payments of currency $1 collected from $2 on: the rollup's whole
-- hours from the first whole hour, its whole minutes before that, and the
-- payments themselves in the first, partial, minute.
WITH edge AS (
    SELECT $2::timestamptz AS since,
           date_trunc('minute', $2::timestamptz)
             + CASE WHEN date_trunc('minute', $2::timestamptz) < $2 THEN interval '1 minute' ELSE interval '0' END AS minute,
           date_trunc('hour', $2::timestamptz)
             + CASE WHEN date_trunc('hour', $2::timestamptz) < $2 THEN interval '1 hour' ELSE interval '0' END AS hour
)
SELECT (SELECT COALESCE(sum(c.amount), 0) FROM collected_rollup c
        WHERE c.currency = $1 AND c.grain = 'hour' AND c.period >= edge.hour)
     + (SELECT COALESCE(sum(c.amount), 0) FROM collected_rollup c
        WHERE c.currency = $1 AND c.grain = 'minute' AND c.period >= edge.minute AND c.period < edge.hour)
     + (SELECT COALESCE(sum(p.amount), 0) FROM payments p JOIN advances a ON a.id = p.advance_id
        WHERE p.status = 'paid' AND p.paid_at >= edge.since AND p.paid_at < edge.minute
        AND a.currency = $1) AS amount
FROM edge
