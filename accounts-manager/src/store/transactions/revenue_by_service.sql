-- Revenue per service of one currency between $2 (inclusive) and $3
-- (exclusive): its captures less its refunds (reversals of captures, which
-- carry the capture's service) in that time, with the latest name given for
-- each service.
SELECT service_id,
       (array_agg(service_name ORDER BY created_at DESC) FILTER (WHERE service_name IS NOT NULL))[1] AS service_name,
       sum(CASE WHEN kind = 'capture' THEN amount ELSE -amount END) AS revenue
FROM (
    SELECT kind, service_id, service_name, amount, created_at FROM transactions
    WHERE kind = 'capture' AND status = 'success' AND currency = $1 AND created_at >= $2 AND created_at < $3
    UNION ALL
    SELECT kind, service_id, service_name, amount, created_at FROM transactions
    WHERE kind = 'reversal' AND status = 'success' AND service_id IS NOT NULL
      AND currency = $1 AND created_at >= $2 AND created_at < $3
) AS revenue
GROUP BY service_id
ORDER BY service_id
