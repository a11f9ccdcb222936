-- The revenue CSV read every capture and refund of a month (655,000 rows,
-- 3.3 s at 10 million transactions). This rollup keeps, per currency, month
-- (UTC, as its first day) and service, the revenue (captures less refunds,
-- each in the month of its own time) and the latest service name given by a
-- capture, written by the ledger engine in the same statement as the
-- captures and refunds themselves (store/batch/write.sql).
--
-- Each (currency, month, service) has a row per system-account shard: a
-- batch adds to the rows of its own shard, whose revenue account it has
-- locked already, so batches on different lanes never wait on one hot row.
-- The CSV sums the shards.
CREATE TABLE revenue_rollup (
    currency      TEXT NOT NULL,
    month         DATE NOT NULL CHECK (extract(day FROM month) = 1),
    service_id    BIGINT NOT NULL CHECK (service_id > 0),
    shard         SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 15),
    revenue       NUMERIC(28, 2) NOT NULL,
    -- The latest name given by a capture of this row, and that capture's time.
    service_name  TEXT,
    named_at      TIMESTAMPTZ,
    PRIMARY KEY (currency, month, service_id, shard),
    CONSTRAINT named_with_its_time CHECK ((service_name IS NULL) = (named_at IS NULL))
);

-- Recomputes the whole rollup from the ledger: the backfill below, and an
-- operator's repair if it were ever in doubt (tests also use it after moving
-- transactions in time behind the engine's back). It locks the rollup
-- against the engine meanwhile: a batch that has written to it commits
-- before, one that has not waits until after, so nothing is counted twice
-- or lost. Call it in a READ COMMITTED transaction (the default).
CREATE FUNCTION rebuild_revenue_rollup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE revenue_rollup IN EXCLUSIVE MODE;
    DELETE FROM revenue_rollup;
    INSERT INTO revenue_rollup (currency, month, service_id, shard, revenue, service_name, named_at)
    SELECT currency,
           date_trunc('month', created_at AT TIME ZONE 'UTC')::date,
           service_id,
           0,
           sum(CASE WHEN kind = 'capture' THEN amount ELSE -amount END),
           (array_agg(service_name ORDER BY created_at DESC, id DESC)
               FILTER (WHERE service_name IS NOT NULL))[1],
           max(created_at) FILTER (WHERE service_name IS NOT NULL)
    FROM transactions
    -- Captures, and refunds: the reversals that carry a capture's service.
    WHERE status = 'success' AND service_id IS NOT NULL AND kind IN ('capture', 'reversal')
    GROUP BY 1, 2, 3;
END
$$;

SELECT rebuild_revenue_rollup();

-- Nothing reads captures and refunds by month any more (the rebuild reads
-- the whole table); each of them cost every capture and refund an index entry.
DROP INDEX transactions_captures;
DROP INDEX transactions_refunds;
