-- How many events wait after a position (the feed's rule: below the
-- horizon), in both of the feed's tables, each counted at most to the cap.
SELECT (SELECT count(*) FROM (SELECT 1 FROM transactions
                              WHERE position > ? AND position < (event_horizon() << 24)
                              LIMIT ?) AS t)
     + (SELECT count(*) FROM (SELECT 1 FROM account_events
                              WHERE position > ? AND position < (event_horizon() << 24)
                              LIMIT ?) AS a) AS n
