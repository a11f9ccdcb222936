-- What the indexes of labels and references (issue 23's migration
-- 2026-12-08-000001_metadata) cost each write, without HTTP in between:
-- rows shaped like the engine's transfers are inserted, 100 a statement and
-- a commit (a group-commit batch), into two copies of `transactions`, one
-- with every index the table has but those, one with them too, alternating
-- (A B B A ...). Measured as the CPU time of this one backend (user +
-- system from /proc, which another process's work on the machine moves far
-- less than a rate), and as wall time.
--
--   psql "$PG/bench_am" -f bench/index-cost.sql      after bench/run.sh
--   (any database migrated by accounts-manager with user accounts in it;
--   creates and drops the schema index_cost; needs a superuser, for
--   pg_read_file('/proc/self/stat'))
--   -v rows=N     rows per measurement (default 50000), -v rounds=N (3)
-- Only the two transactions indexes: the accounts indexes of the same
-- migration are written only when an account row is inserted or moves
-- (not on a HOT update, which is nearly every update of a balance).
\set ON_ERROR_STOP on
\if :{?rows} \else \set rows 50000 \endif
\if :{?rounds} \else \set rounds 3 \endif
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS index_cost CASCADE;
CREATE SCHEMA index_cost;
SET search_path = index_cost, public;

-- Two copies of transactions (columns and defaults; no foreign keys, as
-- both lack them alike) with the table's indexes as they stand, less
-- issue 23's; `labelled` gets those two back, as the migration makes them.
CREATE TABLE plain (LIKE public.transactions INCLUDING DEFAULTS);
CREATE TABLE labelled (LIKE public.transactions INCLUDING DEFAULTS);
DO $$
DECLARE
  def text;
BEGIN
  FOR def IN SELECT indexdef FROM pg_indexes
             WHERE schemaname = 'public' AND tablename = 'transactions'
               AND indexname NOT IN ('transactions_by_metadata', 'transactions_by_reference') LOOP
    EXECUTE replace(regexp_replace(def, 'INDEX \S+ ON ', 'INDEX ON '), 'public.transactions', 'index_cost.plain');
    EXECUTE replace(regexp_replace(def, 'INDEX \S+ ON ', 'INDEX ON '), 'public.transactions', 'index_cost.labelled');
  END LOOP;
END $$;
CREATE INDEX ON labelled USING gin (metadata jsonb_path_ops) WHERE metadata IS NOT NULL;
CREATE INDEX ON labelled (reference, created_at, id) WHERE reference IS NOT NULL;

CREATE TABLE users AS SELECT row_number() OVER () AS n, id FROM public.accounts WHERE kind = 'user';
CREATE TABLE results (round int, shape text, tab text, rows int, cpu_s float8, wall_s float8);

-- The backend's CPU seconds so far (utime + stime, fields 14 and 15).
CREATE FUNCTION cpu() RETURNS float8 LANGUAGE sql AS $$
  SELECT (split_part(s, ' ', 12)::float8 + split_part(s, ' ', 13)::float8) / 100
  FROM (SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) AS s) p  -- fields from the 3rd
$$;

-- Inserts `total` rows into `tab`, 100 a statement and a commit: `shape`
-- 'plain' (no labels, no reference), 'metadata' (5 labels, as loadgen's
-- uniform-metadata mode sends) or 'reference' (a reference, no labels).
CREATE PROCEDURE load(round int, shape text, tab text, total int) LANGUAGE plpgsql AS $$
DECLARE
  users bigint := (SELECT count(*) FROM users);
  -- Ids increase through every load into a table, as the engine's UUIDv7s do.
  base bigint := round * 100000000::bigint
                 + array_position(ARRAY['plain', 'metadata', 'reference'], shape) * 10000000;
  c0 float8 := cpu();
  t0 timestamptz := clock_timestamp();
  b int;
BEGIN
  FOR b IN 0 .. total / 100 - 1 LOOP
    EXECUTE format($q$
      INSERT INTO %I (id, kind, status, amount, currency, from_account_id, to_account_id, reference,
                      description, created_at, created_by, metadata,
                      from_balance_after, from_reserved_after, to_balance_after, to_reserved_after)
      SELECT ('00000000-0000-7000-8000-' || lpad(to_hex($1 + g), 12, '0'))::uuid, 'transfer', 'success', (random() * 100)::numeric(28, 2) + 0.01, 'USD',
             f.id, t.id, CASE WHEN $2 = 'reference' THEN 'inv-' || $1 || '-' || g END, '',
             clock_timestamp(), 'bench',
             CASE WHEN $2 = 'metadata' THEN jsonb_build_object(
               'order_id', 'ord-' || $1 || '-' || g,
               'channel', (ARRAY['web', 'ios', 'android', 'pos'])[1 + g %% 4],
               'country', (ARRAY['US', 'GB', 'DE', 'FR', 'ES', 'NL', 'BR', 'JP'])[1 + g %% 8],
               'customer_id', 'cus-' || lpad(f.n::text, 8, '0'),
               'merchant', (ARRAY['acme-groceries', 'northwind-travel', 'globex-electronics',
                                  'initech-software', 'umbrella-pharmacy'])[1 + g %% 5]) END,
             100, 0, 100, 0
      FROM generate_series(1, 100) g
      JOIN users f ON f.n = 1 + (g * 7919 + $3) %% $4
      JOIN users t ON t.n = 1 + (g * 104729 + $3 + 1) %% $4$q$, tab)
    USING base + b::bigint * 100, shape, b, users;
    COMMIT;
  END LOOP;
  INSERT INTO results VALUES (round, shape, tab, total, cpu() - c0,
                              extract(epoch FROM clock_timestamp() - t0));
  COMMIT;
END $$;

SET synchronous_commit = off;  -- the same for both; what is measured is the work, not the flush
-- Each round loads each shape into both tables, the plain table first in
-- odd rounds and second in even ones (A B B A: a drift of the machine
-- favours neither).
SELECT format('CALL load(%s, %L, %L, %s);', r, s, t, :rows)
FROM generate_series(1, :rounds) r, unnest(ARRAY['plain', 'metadata', 'reference']) WITH ORDINALITY s(s, i),
     unnest(ARRAY['plain', 'labelled']) WITH ORDINALITY t(t, j)
ORDER BY r, i, CASE WHEN r % 2 = 1 THEN j ELSE -j END \gexec

\echo
\echo 'CPU and wall microseconds per row, each round (plain table / with the two indexes):'
SELECT p.round, p.shape,
       round((p.cpu_s * 1e6 / p.rows)::numeric, 1) AS plain_cpu_us, round((l.cpu_s * 1e6 / l.rows)::numeric, 1) AS labelled_cpu_us,
       round(((l.cpu_s - p.cpu_s) * 1e6 / p.rows)::numeric, 1) AS index_cpu_us,
       round((p.wall_s * 1e6 / p.rows)::numeric, 1) AS plain_wall_us, round((l.wall_s * 1e6 / l.rows)::numeric, 1) AS labelled_wall_us
FROM results p JOIN results l ON l.round = p.round AND l.shape = p.shape AND l.tab = 'labelled'
WHERE p.tab = 'plain'
ORDER BY p.shape, p.round;
\echo 'Medians over the rounds (index_cpu_us: what the two indexes add to a row of that shape):'
SELECT shape,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY p_us)::numeric, 1) AS plain_cpu_us,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l_us)::numeric, 1) AS labelled_cpu_us,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l_us - p_us)::numeric, 1) AS index_cpu_us
FROM (SELECT p.shape, p.cpu_s * 1e6 / p.rows AS p_us, l.cpu_s * 1e6 / l.rows AS l_us
      FROM results p JOIN results l ON l.round = p.round AND l.shape = p.shape AND l.tab = 'labelled'
      WHERE p.tab = 'plain') x
GROUP BY shape ORDER BY shape;
SELECT relname AS index_of_labelled, pg_size_pretty(pg_relation_size(c.oid)) AS size
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'labelled'::regclass AND (pg_get_indexdef(c.oid) LIKE '%gin%' OR pg_get_indexdef(c.oid) LIKE '%reference%');
SELECT count(*) FILTER (WHERE metadata IS NOT NULL) AS labelled_rows, count(*) FILTER (WHERE reference IS NOT NULL) AS referenced_rows
FROM labelled;
RESET search_path;
DROP SCHEMA index_cost CASCADE;
