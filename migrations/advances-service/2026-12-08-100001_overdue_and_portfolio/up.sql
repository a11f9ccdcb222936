-- How far behind each advance is, kept with it (changed in the transaction
-- that stores the payment outcome, payoff or reschedule that changes it),
-- and the portfolio report's rollup, kept by triggers on `advances` in the
-- same transactions: the report reads a few rows, never the book.

-- What is still to collect (amount less the paid payments), kept with the
-- advance so that the rollup can follow it.
ALTER TABLE advances
    ADD COLUMN outstanding NUMERIC(28, 2),
    -- The missed chain: the failed payments since the last collection (or
    -- since the advance was made or rescheduled).
    ADD COLUMN missed_installments INT NOT NULL DEFAULT 0 CHECK (missed_installments >= 0),
    -- The latest failed payment's amount (each failure carries the ones before).
    ADD COLUMN overdue_amount NUMERIC(28, 2) NOT NULL DEFAULT 0 CHECK (overdue_amount >= 0),
    -- The due time of the chain's first payment.
    ADD COLUMN overdue_since TIMESTAMPTZ;

UPDATE advances a SET outstanding = a.amount - COALESCE(
    (SELECT sum(p.amount) FROM payments p WHERE p.advance_id = a.id AND p.status = 'paid'), 0);

-- The chain of the advances made before these columns: the failed payments
-- numbered after the last paid one (a failure carries into a later payment,
-- so numbers follow the order of the outcomes).
WITH chain AS (
    SELECT p.advance_id, count(*) AS missed,
           (array_agg(p.amount ORDER BY p.seq DESC))[1] AS overdue_amount,
           min(p.due_at) AS overdue_since
    FROM payments p
    WHERE p.status = 'failed'
      AND p.seq > COALESCE((SELECT max(q.seq) FROM payments q
                            WHERE q.advance_id = p.advance_id AND q.status = 'paid'), 0)
    GROUP BY p.advance_id
)
UPDATE advances a SET missed_installments = chain.missed, overdue_amount = chain.overdue_amount,
    overdue_since = chain.overdue_since
FROM chain WHERE chain.advance_id = a.id AND a.status = 'active';

ALTER TABLE advances
    ALTER COLUMN outstanding SET NOT NULL,
    ADD CONSTRAINT outstanding_within_amount CHECK (outstanding BETWEEN 0 AND amount),
    ADD CONSTRAINT overdue_chain CHECK (
        (missed_installments = 0) = (overdue_since IS NULL)
        AND (missed_installments > 0 OR overdue_amount = 0));

-- Listings: every advance oldest first, and the overdue ones.
CREATE INDEX advances_by_time ON advances (created_at, id);
CREATE INDEX advances_overdue ON advances (created_at, id) WHERE missed_installments > 0;

-- The active advances per currency and aging bucket (missed 0, 1, 2-3,
-- 4+), with a row per shard: a transaction writes only the rows of its own
-- shard, chosen by its transaction id and held with an advisory lock for
-- the rest of the transaction, so that writers on different shards never
-- wait on one another and two on one shard take turns (never a deadlock).
-- The report sums the shards.
CREATE TABLE portfolio_rollup (
    currency       TEXT NOT NULL,
    bucket         SMALLINT NOT NULL CHECK (bucket BETWEEN 0 AND 3),
    shard          SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 7),
    advances       BIGINT NOT NULL,
    outstanding    NUMERIC(28, 2) NOT NULL,
    overdue_amount NUMERIC(28, 2) NOT NULL,
    PRIMARY KEY (currency, bucket, shard)
);

-- What was collected, per currency, minute and hour (`grain`) of the
-- collection and shard: `collected_last_7_days` sums the whole hours, then
-- the whole minutes of the first hour, then the payments of the first
-- partial minute (`payments_paid_at`).
CREATE TABLE collected_rollup (
    currency TEXT NOT NULL,
    grain    TEXT NOT NULL CHECK (grain IN ('minute', 'hour')),
    period   TIMESTAMPTZ NOT NULL,
    shard    SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 7),
    amount   NUMERIC(28, 2) NOT NULL,
    PRIMARY KEY (currency, grain, period, shard)
);
CREATE INDEX payments_paid_at ON payments (paid_at) WHERE status = 'paid';

CREATE FUNCTION portfolio_bucket(missed INT) RETURNS SMALLINT IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN missed <= 0 THEN 0 WHEN missed = 1 THEN 1 WHEN missed <= 3 THEN 2 ELSE 3 END::smallint
$$;

-- The calling transaction's shard, locked until it ends.
CREATE FUNCTION portfolio_shard() RETURNS SMALLINT LANGUAGE plpgsql AS $$
DECLARE
    own_shard SMALLINT := (txid_current() % 8)::smallint;
BEGIN
    -- 1886351988: 'port' as four bytes, the rollups' advisory lock space.
    PERFORM pg_advisory_xact_lock(1886351988, own_shard);
    RETURN own_shard;
END
$$;

-- An advance's row changed: take its old figures out of the rollup and put
-- its new ones in (only `active` advances count), and count what its
-- outstanding amount went down by as collected now. Statement-level, with
-- the statement's old and new rows; one trigger function per operation
-- (transition tables are named per trigger).
CREATE FUNCTION keep_portfolio_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    own_shard SMALLINT;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n USING (id)
        WHERE (o.status, o.currency, o.missed_installments, o.outstanding, o.overdue_amount)
              IS DISTINCT FROM (n.status, n.currency, n.missed_installments, n.outstanding, n.overdue_amount))
    THEN
        RETURN NULL;
    END IF;
    own_shard := portfolio_shard();
    INSERT INTO portfolio_rollup AS r (currency, bucket, shard, advances, outstanding, overdue_amount)
    SELECT d.currency, d.bucket, own_shard, sum(d.n), sum(d.owed), sum(d.overdue)
    FROM (SELECT currency, portfolio_bucket(missed_installments) AS bucket, -1 AS n,
                 -outstanding AS owed, -overdue_amount AS overdue
          FROM old_rows WHERE status = 'active'
          UNION ALL
          SELECT currency, portfolio_bucket(missed_installments), 1, outstanding, overdue_amount
          FROM new_rows WHERE status = 'active') d
    GROUP BY d.currency, d.bucket
    HAVING sum(d.n) <> 0 OR sum(d.owed) <> 0 OR sum(d.overdue) <> 0
    ORDER BY d.currency, d.bucket
    ON CONFLICT (currency, bucket, shard) DO UPDATE SET
        advances = r.advances + EXCLUDED.advances,
        outstanding = r.outstanding + EXCLUDED.outstanding,
        overdue_amount = r.overdue_amount + EXCLUDED.overdue_amount;
    INSERT INTO collected_rollup AS c (currency, grain, period, shard, amount)
    SELECT n.currency, g.grain, date_trunc(g.grain, now()), own_shard, sum(o.outstanding - n.outstanding)
    FROM old_rows o JOIN new_rows n USING (id) CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
    WHERE n.outstanding < o.outstanding
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (currency, grain, period, shard) DO UPDATE SET amount = c.amount + EXCLUDED.amount;
    RETURN NULL;
END
$$;

CREATE FUNCTION keep_portfolio_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'active') THEN
        INSERT INTO portfolio_rollup AS r (currency, bucket, shard, advances, outstanding, overdue_amount)
        SELECT currency, portfolio_bucket(missed_installments), portfolio_shard(), count(*),
               sum(outstanding), sum(overdue_amount)
        FROM new_rows WHERE status = 'active' GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (currency, bucket, shard) DO UPDATE SET
            advances = r.advances + EXCLUDED.advances,
            outstanding = r.outstanding + EXCLUDED.outstanding,
            overdue_amount = r.overdue_amount + EXCLUDED.overdue_amount;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION keep_portfolio_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows WHERE status = 'active') THEN
        INSERT INTO portfolio_rollup AS r (currency, bucket, shard, advances, outstanding, overdue_amount)
        SELECT currency, portfolio_bucket(missed_installments), portfolio_shard(), -count(*),
               -sum(outstanding), -sum(overdue_amount)
        FROM old_rows WHERE status = 'active' GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (currency, bucket, shard) DO UPDATE SET
            advances = r.advances + EXCLUDED.advances,
            outstanding = r.outstanding + EXCLUDED.outstanding,
            overdue_amount = r.overdue_amount + EXCLUDED.overdue_amount;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER advances_portfolio_insert AFTER INSERT ON advances
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_portfolio_on_insert();
CREATE TRIGGER advances_portfolio_delete AFTER DELETE ON advances
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_portfolio_on_delete();
CREATE TRIGGER advances_portfolio_update AFTER UPDATE ON advances
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION keep_portfolio_on_update();

-- Recomputes both rollups from the advances and payments: the backfill
-- below, and an operator's repair. It locks the rollups against the writers
-- meanwhile (call it in a READ COMMITTED transaction).
CREATE FUNCTION rebuild_portfolio_rollup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE portfolio_rollup, collected_rollup IN EXCLUSIVE MODE;
    DELETE FROM portfolio_rollup;
    INSERT INTO portfolio_rollup (currency, bucket, shard, advances, outstanding, overdue_amount)
    SELECT currency, portfolio_bucket(missed_installments), 0, count(*), sum(outstanding), sum(overdue_amount)
    FROM advances WHERE status = 'active' GROUP BY 1, 2;
    DELETE FROM collected_rollup;
    INSERT INTO collected_rollup (currency, grain, period, shard, amount)
    SELECT a.currency, g.grain, date_trunc(g.grain, p.paid_at), 0, sum(p.amount)
    FROM payments p JOIN advances a ON a.id = p.advance_id
    CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
    WHERE p.status = 'paid'
    GROUP BY 1, 2, 3;
END
$$;

SELECT rebuild_portfolio_rollup();
