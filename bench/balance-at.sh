#!/usr/bin/env bash
# Balance at a point in time for an account with 100,000 transactions: adds
# them (synthetic withdrawals over 30 days, with their parts after each) to
# the first funded account of the database bench/run.sh left behind
# (bench_am), then prints EXPLAIN (ANALYZE, BUFFERS) of the query
# GET /api/v1/accounts/{id}/balance?at= runs (store/accounts/parts_at.sql).
#   bench/run.sh && bench/balance-at.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
DB="$PG/bench_am"
ACCOUNT=$(head -1 target/bench/accounts.txt | cut -d, -f1)
psql "$DB" -q <<SQL
INSERT INTO transactions (id, kind, status, amount, currency, from_account_id, description,
                          created_at, created_by, from_balance_after, from_reserved_after)
SELECT gen_random_uuid(), 'withdrawal', 'success', 1, 'USD', '$ACCOUNT', 'generated',
       now() - interval '30 days' + g * interval '25 seconds', 'generator', 1000000 - g, 0
FROM generate_series(1, 100000) g;
ANALYZE transactions;
SQL
psql "$DB" -Atc "SELECT count(*) || ' transactions name account $ACCOUNT' FROM transactions \
                 WHERE from_account_id = '$ACCOUNT' OR to_account_id = '$ACCOUNT'"
{
  echo "EXPLAIN (ANALYZE, BUFFERS)"
  grep -v '^--' accounts-manager/src/store/accounts/parts_at.sql \
    | sed "s/\$1/'$ACCOUNT'::uuid/g; s/\$2/(now() - interval '10 days')/g"
} | psql "$DB"
