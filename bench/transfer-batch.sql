-- pgbench: the raw-SQL shape of a transfer batch of 100 (what the batches
-- mode sends per request), written as a set-based program would: the legs
-- drawn at random, their accounts locked in id order, one update of every
-- account by its net change, one insert of the 100 history rows, one commit.
-- It checks no leg against its balance (every account holds 1,000,000; the
-- CHECK would refuse the whole batch), keeps no idempotency key, no entries,
-- no per-leg balances after: the least work a batch of 100 can be.
BEGIN;
CREATE TEMP TABLE IF NOT EXISTS legs (from_id INT, to_id INT, amount NUMERIC(28,2)) ON COMMIT DELETE ROWS;
INSERT INTO legs
  SELECT f, CASE WHEN t = f THEN f % 10000 + 1 ELSE t END, (1 + floor(random() * 10000)) / 100.0
  FROM (SELECT 1 + floor(random() * 10000)::int AS f, 1 + floor(random() * 10000)::int AS t
        FROM generate_series(1, 100)) AS drawn;
SELECT count(*) FROM (SELECT id FROM bench_accounts
  WHERE id IN (SELECT from_id FROM legs UNION SELECT to_id FROM legs) ORDER BY id FOR UPDATE) AS locked;
UPDATE bench_accounts AS a SET balance = a.balance + d.delta
  FROM (SELECT id, sum(delta) AS delta
        FROM (SELECT from_id AS id, -amount AS delta FROM legs UNION ALL SELECT to_id, amount FROM legs) AS moves
        GROUP BY id) AS d
  WHERE a.id = d.id;
INSERT INTO bench_history (from_id, to_id, amount) SELECT from_id, to_id, amount FROM legs;
END;
