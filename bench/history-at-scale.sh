#!/usr/bin/env bash
# Loads a large ledger (default 10 million transactions, with their entries)
# into a scratch database and measures, with EXPLAIN ANALYZE, the reads
# accounts-manager runs against it: history, the report (its first page with
# the count, and later pages that carry the count in their snapshot token),
# the revenue CSV of a month (from the revenue rollup), and the audit (its
# fast checks on every call, and the full recount the background job runs).
# Prints a table at the end. Usage: bench/history-at-scale.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
DB=am_scale
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
SQL=accounts-manager/src/store
OUT=${BENCH_OUT:-target/bench/history-at-scale}
mkdir -p "$OUT"

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
# service-kit's migrations and the service's, in version order (as the binary applies them).
for dir in $(ls -d migrations/service-kit/*/ migrations/accounts-manager/*/ | awk -F/ '{print $(NF-1) " " $0}' | sort | cut -d' ' -f2); do
    psql "$PG/$DB" -q -f "$dir/up.sql" >/dev/null
done

echo "loading $ROWS transactions over 100000 accounts, and their entries (about 25 minutes for 10 million)"
time psql "$PG/$DB" -q <<SQL
INSERT INTO accounts (id, kind, currency) VALUES (gen_random_uuid(), 'external', 'USD'), (gen_random_uuid(), 'revenue', 'USD');
-- Every generated transaction posts -amount and +amount to its from account,
-- so each account's entries net to zero, as do its balance and the parts
-- recorded after each transaction: the audit's checks do their full work
-- and find the generated ledger clean.
INSERT INTO accounts (id, kind, user_id, currency, balance)
  SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, 'user', g, 'USD', 0
  FROM generate_series(1, 100000) g;
-- Transfers, failures, captures and refunds of captures spread over the last 30 days.
-- (The loader skips the foreign-key triggers: the rows are made consistent.)
SET session_replication_role = replica;
INSERT INTO transactions (id, kind, status, reason, amount, currency, from_account_id, to_account_id,
                          order_id, service_id, service_name, description, created_at, created_by,
                          reverses, from_balance_after, from_reserved_after, to_balance_after, to_reserved_after)
  SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(g), 12, '0'))::uuid,
         k.kind,
         CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'success' END,
         CASE WHEN g % 17 = 0 THEN 'insufficient_funds' END,
         (g % 100000) / 100.0 + 0.01,
         'USD',
         ('00000000-0000-0000-0000-' || lpad(to_hex(1 + g % 100000), 12, '0'))::uuid,
         CASE WHEN k.kind = 'transfer'
              THEN ('00000000-0000-0000-0000-' || lpad(to_hex(1 + (g * 7) % 100000), 12, '0'))::uuid END,
         CASE WHEN k.kind <> 'transfer' THEN g END,
         CASE WHEN k.kind <> 'transfer' THEN 1 + (g / 10) % 50 END,
         CASE WHEN k.kind = 'capture' THEN 'service ' || (1 + (g / 10) % 50) END,
         'generated',
         now() - (g::float / $ROWS) * interval '30 days',
         'generator',
         -- A refund names the capture five rows before it.
         CASE WHEN k.kind = 'reversal' THEN ('00000000-0000-0000-0001-' || lpad(to_hex(g - 5), 12, '0'))::uuid END,
         0, 0,
         CASE WHEN k.kind = 'transfer' THEN 0 END,
         CASE WHEN k.kind = 'transfer' THEN 0 END
  FROM generate_series(1, $ROWS) g,
       LATERAL (SELECT CASE WHEN g % 100 = 5 AND g > 100 THEN 'reversal'
                            WHEN g % 10 = 0 THEN 'capture' ELSE 'transfer' END AS kind) k;
INSERT INTO entries (transaction_id, account_id, bucket, amount)
  SELECT t.id, t.from_account_id, 'balance', s.sign * t.amount
  FROM transactions t CROSS JOIN (VALUES (-1), (1)) AS s(sign)
  WHERE t.status = 'success';
SET session_replication_role = DEFAULT;
VACUUM ANALYZE;
SQL

echo "the revenue rollup's backfill (the migration's, over the loaded ledger)"
time psql "$PG/$DB" -qc "SELECT rebuild_revenue_rollup()" >/dev/null
echo "the account heads' backfill (the migration's, over the loaded ledger)"
time psql "$PG/$DB" -qc "SELECT rebuild_account_heads()" >/dev/null
psql "$PG/$DB" -qc "VACUUM ANALYZE revenue_rollup" -qc "VACUUM ANALYZE account_heads"

ACCOUNT=00000000-0000-0000-0000-000000000007
MONTH_START=$(date -u +%Y-%m-01)
SNAP=$(psql "$PG/$DB" -Atc "SELECT pg_current_snapshot()::text")
VISIBLE="pg_visible_in_snapshot(xid::text::xid8, '$SNAP'::pg_snapshot)"
REPORT="created_at >= now() - interval '5 days' AND created_at <= now() AND $VISIBLE"

RESULTS=()
# measure NAME SQL: runs EXPLAIN (ANALYZE, BUFFERS) twice (the second with
# a warm cache is reported), keeps the plan in $OUT, notes its execution time.
measure() {
  local name=$1 sql=$2 file
  file="$OUT/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').txt"
  psql "$PG/$DB" -qc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql" >/dev/null
  psql "$PG/$DB" -qc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql" >"$file"
  local ms
  ms=$(grep -o 'Execution Time: [0-9.]*' "$file" | awk '{print $3}')
  echo "== $name: $ms ms"
  cat "$file"
  RESULTS+=("$name|$ms")
}

measure "history page 1, newest first (limit 100)" "
SELECT * FROM (
  (SELECT id, amount, created_at FROM transactions WHERE from_account_id = '$ACCOUNT' AND $VISIBLE
     ORDER BY created_at DESC, id DESC LIMIT 100)
  UNION ALL
  (SELECT id, amount, created_at FROM transactions WHERE to_account_id = '$ACCOUNT' AND $VISIBLE
     ORDER BY created_at DESC, id DESC LIMIT 100)
) t ORDER BY created_at DESC, id DESC LIMIT 100 OFFSET 0"
measure "history page 1 by amount (limit 100)" "
SELECT * FROM (
  (SELECT id, amount, created_at FROM transactions WHERE from_account_id = '$ACCOUNT' AND $VISIBLE
     ORDER BY amount DESC, created_at DESC, id DESC LIMIT 100)
  UNION ALL
  (SELECT id, amount, created_at FROM transactions WHERE to_account_id = '$ACCOUNT' AND $VISIBLE
     ORDER BY amount DESC, created_at DESC, id DESC LIMIT 100)
) t ORDER BY amount DESC, created_at DESC, id DESC LIMIT 100 OFFSET 0"
measure "history total_count (first page only)" "
SELECT (SELECT count(*) FROM transactions WHERE from_account_id = '$ACCOUNT' AND $VISIBLE)
     + (SELECT count(*) FROM transactions WHERE to_account_id = '$ACCOUNT' AND $VISIBLE)"
measure "report total_count over 5 days (first page only)" "
SELECT count(*) FROM transactions WHERE $REPORT"
measure "report page 2, 5-day window (limit 100; count carried)" "
SELECT id, amount, created_at FROM transactions WHERE $REPORT ORDER BY created_at, id LIMIT 100 OFFSET 100"
measure "report page 50, 5-day window (limit 100; count carried)" "
SELECT id, amount, created_at FROM transactions WHERE $REPORT ORDER BY created_at, id LIMIT 100 OFFSET 4900"
measure "report page 8000, 5-day window (limit 100; offset 799,900)" "
SELECT id, amount, created_at FROM transactions WHERE $REPORT ORDER BY created_at, id LIMIT 100 OFFSET 799900"
measure "revenue CSV of the current month (rollup)" \
  "$(sed -e "s/\\\$1/'USD'/" -e "s/\\\$2/'$MONTH_START'::date/" $SQL/revenue/revenue_by_service.sql | grep -v '^--')"
measure "audit: fast checks (every call)" "$(grep -v '^--' $SQL/audit/audit.sql)"
measure "audit: full recount of the entries (background job)" "$(grep -v '^--' $SQL/audit/recount.sql)"

echo
echo "| query at $ROWS transactions | time (ms, warm) |"
echo "| --- | --- |"
for r in "${RESULTS[@]}"; do echo "| ${r%%|*} | ${r##*|} |"; done
psql "$PG/$DB" -Atc "SELECT 'entries: ' || count(*) FROM entries"
psql "$PG/$DB" -Atc "SELECT 'captures and refunds this month: ' || count(*) FROM transactions WHERE kind IN ('capture', 'reversal') AND created_at >= '$MONTH_START'"
[ "${KEEP:-0}" = 1 ] || psql "$PG/postgres" -qc "DROP DATABASE $DB WITH (FORCE)"
