-- How many events wait after a position, counting at most the cap.
SELECT count(*) AS n
FROM (SELECT 1
      FROM events
      WHERE position > ?
        AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 24)
      LIMIT ?) AS waiting
