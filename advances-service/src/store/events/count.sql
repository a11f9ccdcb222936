-- How many events wait after a position, counting at most the cap.
SELECT count(*) AS n
FROM (SELECT 1
      FROM events
      WHERE position > ?
        AND position < (event_horizon() << 24)
      LIMIT ?) AS waiting
