-- How many events wait after a position (the feed's rule), counting at most
-- the cap.
SELECT count(*) AS n
FROM (SELECT 1
      FROM transactions
      WHERE position > ?
        AND position < (event_horizon() << 24)
      LIMIT ?) AS waiting
