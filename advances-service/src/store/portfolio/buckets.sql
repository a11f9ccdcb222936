-- The active advances of currency $1 by aging bucket, summed over the
-- rollup's shards (a bucket no advance is in has no row).
SELECT bucket, sum(advances)::int8 AS advances, sum(outstanding) AS outstanding,
sum(overdue_amount) AS overdue_amount
FROM portfolio_rollup WHERE currency = $1 GROUP BY bucket
