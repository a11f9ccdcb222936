#!/usr/bin/env bash
# The portfolio report with a large book: ADVANCES (1,000,000) active
# advances loaded into a fresh advances-service database, spread over the
# aging buckets, and a week of collections (one paid payment per advance,
# over the last 7 days), the rollups then rebuilt and filled out to their
# worst case (a row for every shard of every minute and hour); then
# GET /api/v1/reports/portfolio timed through HTTP against the release
# binary, TIMES (20) times.
#   bench/portfolio.sh   ADVANCES=1000000 TIMES=20
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
release_bins advances-service
ADVANCES=${ADVANCES:-1000000}
TIMES=${TIMES:-20}
DB=bench_portfolio
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
VHOST=bench_portfolio_$$
rabbitmqctl add_vhost $VHOST >/dev/null && rabbitmqctl set_permissions -p $VHOST guest '.*' '.*' '.*' >/dev/null
ADDR=127.0.0.1:18091
DATABASE_URL="$PG/$DB" API_TOKENS=$TOKEN AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$VHOST" \
  ACCOUNTS_URL=http://127.0.0.1:9 ACCOUNTS_TOKEN=unused ROLES=api BIND_ADDR=$ADDR RUST_LOG=warn \
  "$BIN/advances-service" >"$OUT/portfolio.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rabbitmqctl delete_vhost $VHOST >/dev/null 2>&1 || true' EXIT
until curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1; do sleep 0.2; done

echo "== loading $ADVANCES advances and a week of collections"
start=$(date +%s)
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 <<SQL
ALTER TABLE advances DISABLE TRIGGER USER;
INSERT INTO advances (id, account_id, amount, outstanding, missed_installments, overdue_amount, overdue_since,
                      currency, installments, status, interval_ms, disbursement_transaction_id, created_at, created_by)
SELECT gen_random_uuid(), gen_random_uuid(), 1200.00, 1100.00, m, CASE WHEN m > 0 THEN 100.00 * m ELSE 0 END,
       CASE WHEN m > 0 THEN now() - make_interval(days => 7 * m) END,
       'USD', 12, 'active', 604800000, gen_random_uuid(), now() - interval '30 days', 'bench'
FROM (SELECT g, (ARRAY[0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 6])[1 + g % 12] AS m
      FROM generate_series(1, $ADVANCES) g) s;
INSERT INTO payments (id, advance_id, seq, amount, due_at, status, paid_at, transaction_id)
SELECT gen_random_uuid(), id, 1, 100.00, created_at, 'paid',
       now() - random() * interval '7 days', gen_random_uuid()
FROM advances;
ALTER TABLE advances ENABLE TRIGGER USER;
SELECT rebuild_portfolio_rollup();
-- The worst case: every shard has a row for every minute and hour.
INSERT INTO collected_rollup (currency, grain, period, shard, amount)
SELECT c.currency, c.grain, c.period, s, 0 FROM collected_rollup c, generate_series(1, 7) s;
INSERT INTO portfolio_rollup (currency, bucket, shard, advances, outstanding, overdue_amount)
SELECT p.currency, p.bucket, s, 0, 0, 0 FROM portfolio_rollup p, generate_series(1, 7) s;
VACUUM ANALYZE;
SQL
echo "   loaded in $(($(date +%s) - start)) s: $(psql "$PG/$DB" -tAc "SELECT count(*) FROM collected_rollup") collected rows, $(psql "$PG/$DB" -tAc "SELECT count(*) FROM portfolio_rollup") bucket rows"

echo "== GET /api/v1/reports/portfolio, $TIMES times"
times=()
for _ in $(seq 1 "$TIMES"); do
  read -r code secs < <(curl -sS -o "$OUT/portfolio.json" -w '%{http_code} %{time_total}\n' \
    -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/reports/portfolio?currency=USD")
  [ "$code" = 200 ] || { echo "HTTP $code: $(cat "$OUT/portfolio.json")"; exit 1; }
  times+=("$secs")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "   best %.1f ms, median %.1f ms, worst %.1f ms\n", t[1], t[int((NR + 1) / 2)], t[NR] }'
echo "   $(cat "$OUT/portfolio.json")"
echo "== GET /api/v1/advances?overdue=true&limit=100 (first page, with its total_count), then the next by cursor"
for query in "overdue=true&limit=100" "overdue=true&limit=100&cursor=CURSOR"; do
  best=
  for _ in 1 2 3 4 5; do
    url="http://$ADDR/api/v1/advances?${query/CURSOR/${cursor:-}}"
    read -r code secs < <(curl -sS -o "$OUT/overdue.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$url")
    [ "$code" = 200 ] || { echo "HTTP $code: $(head -c 300 "$OUT/overdue.json")"; exit 1; }
    best=$(printf '%s\n' $best $secs | sort -n | head -1)
  done
  cursor=$(python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(open(sys.argv[1]))["next"] or ""))' "$OUT/overdue.json")
  echo "   $query: best of 5 $(awk -v s="$best" 'BEGIN { printf "%.1f", s * 1000 }') ms"
done
psql "$PG/$DB" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $(sed -e 's/\$1/'"'USD'"'/g' -e 's/\$2::timestamptz/(now() - interval '"'7 days'"')/g' -e 's/\$2/(now() - interval '"'7 days'"')/g' -e '/^--/d' advances-service/src/store/portfolio/collected.sql)" | tail -4
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
