#!/usr/bin/env bash
# Loads a large transactions table (default 10 million rows) into a scratch
# database and shows the plans and timings of the history, report and revenue
# queries accounts-manager runs. Usage: bench/history-at-scale.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
DB=am_scale
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
for up in migrations/accounts-manager/*/up.sql; do psql "$PG/$DB" -q -f "$up"; done

echo "loading $ROWS transactions over 100000 accounts (a few minutes for 10 million)"
time psql "$PG/$DB" -q <<SQL
INSERT INTO accounts (id, kind, currency) VALUES (gen_random_uuid(), 'external', 'USD'), (gen_random_uuid(), 'revenue', 'USD');
INSERT INTO accounts (id, kind, user_id, currency, balance)
  SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, 'user', g, 'USD', 1000
  FROM generate_series(1, 100000) g;
-- Transfers, failures, reservations and captures spread over the last 30 days.
INSERT INTO transactions (id, kind, status, reason, amount, currency, from_account_id, to_account_id,
                          order_id, service_id, service_name, description, created_at, created_by)
  SELECT gen_random_uuid(),
         CASE WHEN g % 10 = 0 THEN 'capture' ELSE 'transfer' END,
         CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'success' END,
         CASE WHEN g % 17 = 0 THEN 'insufficient_funds' END,
         (g % 100000) / 100.0 + 0.01,
         'USD',
         ('00000000-0000-0000-0000-' || lpad(to_hex(1 + g % 100000), 12, '0'))::uuid,
         CASE WHEN g % 10 = 0 THEN NULL
              ELSE ('00000000-0000-0000-0000-' || lpad(to_hex(1 + (g * 7) % 100000), 12, '0'))::uuid END,
         CASE WHEN g % 10 = 0 THEN g END,
         CASE WHEN g % 10 = 0 THEN 1 + (g / 10) % 50 END,
         CASE WHEN g % 10 = 0 THEN 'service ' || (1 + (g / 10) % 50) END,
         'generated',
         now() - (g::float / $ROWS) * interval '30 days',
         'generator'
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE;
SQL

ACCOUNT=00000000-0000-0000-0000-000000000007
MONTH_START=$(date -u +%Y-%m-01)
psql "$PG/$DB" <<SQL
\timing on
SELECT pg_current_snapshot()::text AS snap \gset
\echo '== history page 1, newest first (limit 100)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM (
  (SELECT id, amount, created_at FROM transactions WHERE from_account_id = '$ACCOUNT'
     AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot) ORDER BY created_at DESC, id DESC LIMIT 100)
  UNION ALL
  (SELECT id, amount, created_at FROM transactions WHERE to_account_id = '$ACCOUNT'
     AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot) ORDER BY created_at DESC, id DESC LIMIT 100)
) t ORDER BY created_at DESC, id DESC LIMIT 100 OFFSET 0;
\echo '== history by amount, page 1'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM (
  (SELECT id, amount, created_at FROM transactions WHERE from_account_id = '$ACCOUNT'
     AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot) ORDER BY amount DESC, created_at DESC, id DESC LIMIT 100)
  UNION ALL
  (SELECT id, amount, created_at FROM transactions WHERE to_account_id = '$ACCOUNT'
     AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot) ORDER BY amount DESC, created_at DESC, id DESC LIMIT 100)
) t ORDER BY amount DESC, created_at DESC, id DESC LIMIT 100 OFFSET 0;
\echo '== history total_count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT (SELECT count(*) FROM transactions WHERE from_account_id = '$ACCOUNT' AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot))
     + (SELECT count(*) FROM transactions WHERE to_account_id = '$ACCOUNT' AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot));
\echo '== report page 50 of the last 5 days (limit 100)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, amount, created_at FROM transactions
WHERE created_at >= now() - interval '5 days' AND created_at <= now()
  AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot)
ORDER BY created_at, id LIMIT 100 OFFSET 4900;
\echo '== report total_count over the last 5 days'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*) FROM transactions
WHERE created_at >= now() - interval '5 days' AND created_at <= now()
  AND pg_visible_in_snapshot(xid::text::xid8, :'snap'::pg_snapshot);
\echo '== revenue CSV of the current month'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT service_id,
       (array_agg(service_name ORDER BY created_at DESC) FILTER (WHERE service_name IS NOT NULL))[1] AS service_name,
       sum(amount) AS revenue
FROM transactions
WHERE kind = 'capture' AND status = 'success' AND currency = 'USD'
  AND created_at >= '$MONTH_START' AND created_at < '$MONTH_START'::date + interval '1 month'
GROUP BY service_id ORDER BY service_id;
SQL
[ "${KEEP:-0}" = 1 ] || psql "$PG/postgres" -qc "DROP DATABASE $DB WITH (FORCE)"
