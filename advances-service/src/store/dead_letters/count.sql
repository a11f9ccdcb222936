-- How many dead letters snapshot $1 sees.
SELECT count(*) AS n
FROM dead_letters
WHERE pg_visible_in_snapshot(xid::text::xid8, $1::pg_snapshot)
