-- Captured revenue per service of one currency between $2 (inclusive) and $3
-- (exclusive), with the latest name given for each service.
SELECT service_id,
       (array_agg(service_name ORDER BY created_at DESC) FILTER (WHERE service_name IS NOT NULL))[1] AS service_name,
       sum(amount) AS revenue
FROM transactions
WHERE kind = 'capture' AND status = 'success' AND currency = $1 AND created_at >= $2 AND created_at < $3
GROUP BY service_id
ORDER BY service_id
