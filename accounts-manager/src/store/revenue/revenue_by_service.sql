-- Revenue per service of one currency in the month starting $2: the sum of
-- the rollup's shards (captures less refunds, kept by the ledger engine), and
-- the latest name a capture gave the service that month.
SELECT service_id,
       (array_agg(service_name ORDER BY named_at DESC, shard DESC)
           FILTER (WHERE service_name IS NOT NULL))[1] AS service_name,
       sum(revenue) AS revenue
FROM revenue_rollup
WHERE currency = $1 AND month = $2
GROUP BY service_id
ORDER BY service_id
