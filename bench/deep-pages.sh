#!/usr/bin/env bash
# Deep pages through HTTP: loads ROWS transfers (default 10 million) into a
# scratch database the way the API writes them (one writer xid per batch of
# 100, created_at over the last hour, entries), leaves it as a fresh load
# does (no ANALYZE: autovacuum is off here, so no statistics), starts
# accounts-manager on it and times, with curl, the listings at depth: the
# report by `page=` + `snapshot=` and by `cursor=`, with and without a
# status, a busy account's history and statement (figures and first page,
# CSV), the search by reference and by labels, and the accounts listing by a
# label. Keeps EXPLAIN (ANALYZE, BUFFERS) of
# the report's deep pages as the service sends them (target/bench/deep-pages).
#
# Usage: bench/deep-pages.sh [ROWS]
#   ROWS           transactions loaded (default 10,000,000); the busy account
#                  sends 1 in 10 of them, so ROWS=1000000 gives it 100,200
#                  transactions (loaded in under a minute; 10M took 17
#                  minutes), enough for its statement step
#   STEPS          the reads to time, a subset of "report status history
#                  statement search accounts" (default: all of them)
#   KEEP=1         keep the database am_deep afterwards
#   ANALYZE=1      a second pass after ANALYZE
#   BENCH_BIN      the accounts-manager binary (default: target/release, else
#                  target/debug; built with cargo when neither exists)
#   LOAD_JOBS      sessions loading at once (default 2)
#   SLOW_MS        auto_explain logs (rows and buffers, no per-node timing)
#                  the service's statements slower than this (default 100;
#                  0: off); their plans go to target/bench/deep-pages from
#                  PG_LOG (default /var/log/postgresql/postgresql-15-main.log)
#   PGHOST_URL     the Postgres server (postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
DB=am_deep
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
OUT=${BENCH_OUT:-target/bench/deep-pages}
TOKEN=bench-token
LOAD_JOBS=${LOAD_JOBS:-2}
STEPS=" ${STEPS:-report status history statement search accounts} "
step() { [[ "$STEPS" == *" $1 "* ]]; }
USERS=10000                         # user accounts; ...0007 sends 1 transfer in 10
BUSY=00000000-0000-0000-0000-000000000007
BATCHES=$(( (ROWS + 99) / 100 ))    # one commit (one writer xid) per 100 rows
ROWS=$(( BATCHES * 100 ))
REFS=$(( ROWS / 100 ))              # a reference names about 100 rows
[ "$REFS" -ge 1 ] || REFS=1
REF="ref-$(( 12345 % REFS ))"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/main/target}
mkdir -p "$OUT"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  [ "${KEEP:-0}" = 1 ] || psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
}
trap cleanup EXIT

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
# service-kit's migrations and the service's, in version order (as the binary
# applies them; as bench/history-at-scale.sh does), recorded as diesel records
# them so that the binary finds none pending.
VERSIONS=()
for dir in $(ls -d migrations/service-kit/*/ migrations/accounts-manager/*/ | awk -F/ '{print $(NF-1) " " $0}' | sort | cut -d' ' -f2); do
  psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -f "$dir/up.sql" >/dev/null
  name=$(basename "$dir")
  VERSIONS+=("('${name%%_*}')")
done
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
  version VARCHAR(50) PRIMARY KEY NOT NULL,
  run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
INSERT INTO __diesel_schema_migrations (version)
  SELECT replace(v, '-', '') FROM (VALUES $(IFS=,; echo "${VERSIONS[*]}")) AS m(v);
SQL

echo "== loading $ROWS transfers ($BATCHES commits of 100, $LOAD_JOBS sessions) over $USERS user accounts, with their entries"
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO accounts (id, kind, currency) VALUES (gen_random_uuid(), 'external', 'USD'), (gen_random_uuid(), 'revenue', 'USD');
-- 1 user account in 100 is labelled {"tier": "gold"}.
INSERT INTO accounts (id, kind, user_id, currency, balance, metadata)
  SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, 'user', g, 'USD', 0,
         CASE WHEN g % 100 = 0 THEN '{"tier": "gold"}'::jsonb END
  FROM generate_series(1, $USERS) g;
-- As POST /api/v1/transfers/batch writes: a commit per 100 transfers (one
-- writer xid; xid and position from the column defaults), a batch's rows at
-- one created_at, ids increasing (as UUIDv7s), created_at over the last hour.
-- Row g: reference ref-<g mod ROWS/100> (100 rows a reference); every 1000th
-- is labelled {"order": "o-<g>", "channel": "web"}.
CREATE PROCEDURE load_batches(first int, last int, batches int, per_batch int, t0 timestamptz) LANGUAGE plpgsql AS \$\$
DECLARE
  b int;
BEGIN
  FOR b IN first .. last LOOP
    WITH t AS (
      INSERT INTO transactions (id, kind, status, reason, amount, currency, from_account_id, to_account_id,
                                reference, description, created_at, created_by, metadata,
                                from_balance_after, from_reserved_after, to_balance_after, to_reserved_after)
      SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(g), 12, '0'))::uuid,
             'transfer',
             CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'success' END,
             CASE WHEN g % 17 = 0 THEN 'insufficient_funds' END,
             (g % 100000) / 100.0 + 0.01,
             'USD',
             ('00000000-0000-0000-0000-' || lpad(to_hex(CASE WHEN g % 10 = 0 THEN 7 ELSE 1 + g % $USERS END), 12, '0'))::uuid,
             ('00000000-0000-0000-0000-' || lpad(to_hex(1 + (g * 7 + 3) % $USERS), 12, '0'))::uuid,
             'ref-' || (g % $REFS),
             'generated',
             t0 + b * (interval '3540 seconds' / batches),
             'bench',
             CASE WHEN g % 1000 = 0 THEN jsonb_build_object('order', 'o-' || g, 'channel', 'web') END,
             0, 0, 0, 0
      FROM generate_series(b::bigint * per_batch + 1, (b::bigint + 1) * per_batch) g
      RETURNING id, from_account_id, to_account_id, amount, status
    )
    INSERT INTO entries (transaction_id, account_id, bucket, amount)
      SELECT id, from_account_id, 'balance', -amount FROM t WHERE status = 'success'
      UNION ALL
      SELECT id, to_account_id, 'balance', amount FROM t WHERE status = 'success';
    COMMIT;
  END LOOP;
END \$\$;
SQL
T0=$(psql "$PG/$DB" -Atc "SELECT now() - interval '1 hour'")
load_start=$(date +%s)
pids=()
for j in $(seq 0 $((LOAD_JOBS - 1))); do
  first=$(( BATCHES * j / LOAD_JOBS )); last=$(( BATCHES * (j + 1) / LOAD_JOBS - 1 ))
  [ "$last" -ge "$first" ] || continue
  # The loader skips the foreign-key triggers (the rows are consistent).
  psql "$PG/$DB" -q -v ON_ERROR_STOP=1 \
    -c "SET synchronous_commit = off" -c "SET session_replication_role = replica" \
    -c "CALL load_batches($first, $last, $BATCHES, 100, '$T0')" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
LOAD_SECONDS=$(( $(date +%s) - load_start ))
psql "$PG/$DB" -qc "DROP PROCEDURE load_batches(int, int, int, int, timestamptz)"
echo "== loaded in ${LOAD_SECONDS}s"
echo "== no ANALYZE after the load (autovacuum=$(psql "$PG/$DB" -Atc 'SHOW autovacuum')): no statistics, as a fresh load leaves the tables"
psql "$PG/$DB" -Atc "SELECT 'statistics rows for transactions: ' || count(*) FROM pg_statistic WHERE starelid = 'transactions'::regclass"

# The binary.
if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN
elif [ -x "$CARGO_TARGET_DIR/release/accounts-manager" ]; then BIN=$CARGO_TARGET_DIR/release/accounts-manager
elif [ -x "$CARGO_TARGET_DIR/debug/accounts-manager" ]; then BIN=$CARGO_TARGET_DIR/debug/accounts-manager
else
  echo "== building accounts-manager (debug)"
  cargo build -p accounts-manager 2>&1 | tail -n 1
  BIN=$CARGO_TARGET_DIR/debug/accounts-manager
fi
SLOW_MS=${SLOW_MS:-100}
PG_LOG=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
if [ "$SLOW_MS" != 0 ]; then
  # For the service's sessions (and ours): plans of slow statements, as run,
  # with their row counts and buffers (per-node timing off: it would slow them).
  psql "$PG/postgres" -q -v ON_ERROR_STOP=1 \
    -c "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE $DB SET auto_explain.log_min_duration = $SLOW_MS" \
    -c "ALTER DATABASE $DB SET auto_explain.log_analyze = on" \
    -c "ALTER DATABASE $DB SET auto_explain.log_timing = off" \
    -c "ALTER DATABASE $DB SET auto_explain.log_buffers = on"
fi
echo "== binary: $BIN ($(date -u -r "$BIN" '+built %F %T UTC'))"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
env -u EVENTS_AMQP_URL DATABASE_URL="$PG/$DB" BIND_ADDR=127.0.0.1:$PORT API_TOKENS=$TOKEN \
  DATABASE_POOL_SIZE=4 HTTP_WORKERS=2 RUST_LOG=${RUST_LOG:-warn} \
  "$BIN" >"$OUT/accounts-manager.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do
  curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "accounts-manager exited:"; tail -n 20 "$OUT/accounts-manager.log"; exit 1; }
  sleep 0.5
done
curl -sf "$BASE/readyz" >/dev/null || { echo "accounts-manager not ready"; tail -n 20 "$OUT/accounts-manager.log"; exit 1; }
# The service audits (and recounts every entry) at start: wait for it.
quiet() {
  local calm=0
  while [ "$calm" -lt 3 ]; do
    n=$(psql "$PG/$DB" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND state = 'active' AND pid <> pg_backend_pid()")
    if [ "$n" = 0 ]; then calm=$((calm + 1)); else calm=0; fi
    sleep 1
  done
}
echo "== accounts-manager ready on $BASE; waiting for its start-up audit"
quiet

api() {  # api PATH: the body in $OUT/body.json; prints "HTTP_CODE SECONDS"
  curl -sS -o "$OUT/body.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$BASE$1"
}
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
RESULTS=()
# timed NAME PATH: one warm-up, then the best of 3 (ms); the last body stays in $OUT/body.json.
timed() {
  local name=$1 path=$2 best= code secs
  read -r code secs < <(api "$path")
  [ "$code" = 200 ] || { echo "$name: HTTP $code for $path: $(head -c 300 "$OUT/body.json")"; exit 1; }
  for _ in 1 2 3; do
    read -r code secs < <(api "$path")
    [ "$code" = 200 ] || { echo "$name: HTTP $code"; exit 1; }
    best=$(awk -v a="${best:-$secs}" -v b="$secs" 'BEGIN { print (b < a ? b : a) }')
  done
  local items total
  items=$(jq '.items | length' "$OUT/body.json"); total=$(jq '.total_count // .count' "$OUT/body.json")
  echo "   $name: $(ms "$best") ms ($items items of $total)"
  RESULTS+=("$name|$(ms "$best")|$items|$total")
}
enc() { jq -rn --arg v "$1" '$v | @uri'; }
join() { case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }  # join PATH PARAMS
# walk PATH ROWS: follows `next` from the first page (limit 1000 a request)
# until ROWS rows are read (at most total_count - 100, so that a page
# follows); leaves the cursor in $CURSOR, the rows read in $DEPTH, the
# requests and seconds in $WALK, the last row's created_at and id in $LAST_KEY.
walk() {
  local out
  out=$(python3 - "$BASE" "$TOKEN" "$1" "$2" <<'PY'
import http.client, json, sys, time, urllib.parse
base, token, path, target = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc)
sep = "&" if "?" in path else "?"
cursor, depth, n, last, t0 = "", 0, 0, None, time.monotonic()
while depth < target:
    step = min(1000, target - depth)
    url = f"{path}{sep}limit={step}" + (f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
    conn.request("GET", url, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"walk: HTTP {response.status}: {body[:300]!r}")
    page = json.loads(body)
    n += 1
    depth += len(page["items"])
    if page["items"]:
        last = page["items"][-1]
    cursor = page.get("next") or ""
    if not cursor:
        break
    target = min(target, (page["total_count"] - 100) // 100 * 100)
key = f"{last['created_at']} {last['transaction_id']}" if last else ""
print(f"{depth}\n{n} requests of up to 1000, {time.monotonic() - t0:.1f} s\n{key}\n{cursor}")
PY
)
  { read -r DEPTH; read -r WALK; read -r LAST_KEY; read -r CURSOR; } <<<"$out"
}
# deep_cursor NAME PATH ROWS: walks ROWS rows in, then times the next 100 by cursor.
deep_cursor() {
  local name=$1 path=$2 target=$3
  walk "$path" "$target"
  echo "   walk to row $DEPTH of $name: $WALK"
  NOTES+=("$name: walked to row $DEPTH by cursor ($WALK)")
  [ -n "$CURSOR" ] || { echo "   (no next at row $DEPTH)"; return; }
  timed "$name, cursor after row $DEPTH (page $(( DEPTH / 100 + 1 )))" "$(join "$path" "limit=100&cursor=$(enc "$CURSOR")")"
}

# The report's page query as accounts-manager sends it (store::transactions
# `report` with ReportFilter::condition and VISIBLE), its binds typed as
# diesel binds them, planned for their values (an unnamed statement: a custom
# plan), inside the transaction `in_index_order` opens.
COLUMNS="id, kind, status, reason, amount, currency, from_account_id, to_account_id, order_id, service_id, reference, description, created_at, created_by, reverses, reversed_amount, metadata"
VISIBLE="(xid < pg_snapshot_xmin(\$2::pg_snapshot)::text::bigint OR pg_visible_in_snapshot(xid::text::xid8, \$2::pg_snapshot))"
grep -q 'pg_snapshot_xmin' accounts-manager/src/store/transactions.rs \
  || echo "!! accounts-manager/src/store/transactions.rs no longer tests pg_snapshot_xmin: the plans below may not be the service's"
explain() {  # explain NAME STATUS OFFSET [AFTER_TIME AFTER_ID]
  local name=$1 status=$2 offset=$3 cond keyset="" args file shown
  if [ "$status" = NULL ]; then cond="created_at >= \$1 AND created_at <= \$3 AND (\$4::text IS NULL) AND $VISIBLE"
  else cond="status = \$4 AND created_at >= \$1 AND created_at <= \$3 AND $VISIBLE"; fi
  args="'$FROM', '$SNAP', '$TO', $status, 100, $offset, NULL, NULL, NULL"
  if [ $# -ge 5 ]; then keyset="AND (created_at, id) > (\$7, \$8)"; args="'$FROM', '$SNAP', '$TO', $status, 100, 0, '$4', '$5', NULL"; fi
  shown=${args//\'/}
  file="$OUT/$TAG-$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').txt"
  psql "$PG/$DB" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET plan_cache_mode = force_custom_plan;
PREPARE page(timestamptz, text, timestamptz, text, bigint, bigint, timestamptz, uuid, numeric) AS
  SELECT $COLUMNS FROM transactions WHERE $cond $keyset ORDER BY created_at, id LIMIT \$5 OFFSET \$6;
BEGIN; SET LOCAL enable_sort = off; EXPLAIN (ANALYZE, BUFFERS) EXECUTE page($args); COMMIT;
\o $file
\qecho -- $name: the report page query, binds ($shown)
BEGIN; SET LOCAL enable_sort = off; EXPLAIN (ANALYZE, BUFFERS) EXECUTE page($args); COMMIT;
SQL
  echo "   plan of $name (warm) in $file: $(grep -o 'Execution Time: .*' "$file")"
  PLANS+=("$file")
}

# One pass of every read.
measure() {
  PASS=$1 TAG=$2
  echo "== $PASS"
  local log_from=0
  [ ! -r "$PG_LOG" ] || log_from=$(stat -c %s "$PG_LOG")
  RESULTS=() NOTES=() PLANS=()
  if step report; then
  # The report's first page: counts the window, pins the snapshot and window.
  timed "report page 1 (counts the window)" "/api/v1/transactions?limit=100"
  SNAPSHOT=$(jq -r .snapshot "$OUT/body.json")
  SNAP=$(psql "$PG/$DB" -Atc "SELECT pg_current_snapshot()")   # what the service read (no writer since)
  TO=$(psql "$PG/$DB" -Atc "SELECT now()"); FROM=$(psql "$PG/$DB" -Atc "SELECT now() - interval '5 days'")
  for p in 2 200 20000; do timed "report page $p (page=, snapshot=)" "/api/v1/transactions?limit=100&page=$p&snapshot=$(enc "$SNAPSHOT")"; done
  explain "report page 200" NULL 19900
  explain "report page 20000" NULL 1999900
  # By cursor: a few pages after page 1, then deep.
  read -r _ _ < <(api "/api/v1/transactions?limit=100")
  CURSOR=$(jq -r .next "$OUT/body.json")
  for p in 2 3 4; do
    timed "report page $p by cursor" "/api/v1/transactions?limit=100&cursor=$(enc "$CURSOR")"
    CURSOR=$(jq -r .next "$OUT/body.json")
  done
  deep_cursor "report" "/api/v1/transactions" 1999900
  [ -z "$LAST_KEY" ] || explain "report cursor after row $DEPTH" NULL 0 $LAST_KEY
  fi

  if step status; then
  # The same with status=success.
  timed "report status=success page 1 (counts)" "/api/v1/transactions?status=success&limit=100"
  SNAPSHOT=$(jq -r .snapshot "$OUT/body.json")
  for p in 2 200 20000; do timed "report status=success page $p (page=, snapshot=)" "/api/v1/transactions?status=success&limit=100&page=$p&snapshot=$(enc "$SNAPSHOT")"; done
  SNAP=$(psql "$PG/$DB" -Atc "SELECT pg_current_snapshot()")
  TO=$(psql "$PG/$DB" -Atc "SELECT now()"); FROM=$(psql "$PG/$DB" -Atc "SELECT now() - interval '5 days'")
  explain "report status=success page 20000" "'success'" 1999900
  deep_cursor "report status=success" "/api/v1/transactions?status=success" 1999900
  fi

  if step history; then
  # A busy account's history (1 transfer in 10 leaves it).
  timed "history of a busy account page 1 (counts)" "/api/v1/accounts/$BUSY/transactions?limit=100"
  SNAPSHOT=$(jq -r .snapshot "$OUT/body.json")
  for p in 2 200; do timed "history page $p (page=, snapshot=)" "/api/v1/accounts/$BUSY/transactions?limit=100&page=$p&snapshot=$(enc "$SNAPSHOT")"; done
  deep_cursor "history" "/api/v1/accounts/$BUSY/transactions" 19900
  fi

  if step statement; then
  # A statement of the busy account over a period holding 10,000 of its
  # lines: its figures (first page), and every line as CSV.
  PERIOD=$(psql "$PG/$DB" -Atc "SELECT to_char((min(created_at) - interval '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || ' ' ||
                                       to_char(max(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
                                FROM (SELECT created_at FROM transactions WHERE from_account_id = '$BUSY'
                                      ORDER BY created_at LIMIT 10000) t")
  read -r FROM TO <<<"$PERIOD"
  timed "statement of the busy account, 10,000 lines: figures and first page" "/api/v1/accounts/$BUSY/statement?from=$(enc "$FROM")&to=$(enc "$TO")&limit=100"
  best=
  for _ in 1 2 3 4; do
    read -r code secs < <(curl -sS -o "$OUT/statement.csv" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" -H 'Accept: text/csv' \
      "$BASE/api/v1/accounts/$BUSY/statement?from=$(enc "$FROM")&to=$(enc "$TO")")
    [ "$code" = 200 ] || { echo "statement CSV: HTTP $code"; exit 1; }
    best=$(awk -v a="${best:-$secs}" -v b="$secs" 'BEGIN { print (b < a ? b : a) }')
  done
  lines=$(($(wc -l <"$OUT/statement.csv") - 1))
  echo "   statement CSV: $(ms "$best") ms ($lines lines)"
  RESULTS+=("statement of the busy account as CSV (every line)|$(ms "$best")|$lines|")
  # The same account over a period holding every one of its lines (a month
  # in which all of its transactions fell): the figures' worst case.
  PERIOD=$(psql "$PG/$DB" -Atc "SELECT to_char((min(created_at) - interval '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || ' ' ||
                                       to_char(max(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
                                FROM transactions WHERE from_account_id = '$BUSY' OR to_account_id = '$BUSY'")
  read -r FROM TO <<<"$PERIOD"
  timed "statement of the busy account, all its lines: figures and first page" "/api/v1/accounts/$BUSY/statement?from=$(enc "$FROM")&to=$(enc "$TO")&limit=100"
  fi

  if step search; then
  # Search, newest first, by cursors only.
  timed "search reference=$REF" "/api/v1/search/transactions?reference=$REF&limit=100"
  timed "search metadata.order=o-5000" "/api/v1/search/transactions?metadata.order=o-5000&limit=100"
  timed "search metadata.channel=web page 1" "/api/v1/search/transactions?metadata.channel=web&limit=100"
  CURSOR=$(jq -r '.next // empty' "$OUT/body.json")
  [ -z "$CURSOR" ] || timed "search metadata.channel=web page 2 by cursor" "/api/v1/search/transactions?metadata.channel=web&limit=100&cursor=$(enc "$CURSOR")"
  fi
  # Accounts by a label.
  if step accounts; then timed "accounts metadata.tier=gold" "/api/v1/accounts?metadata.tier=gold&limit=100"; fi

  echo
  echo "### $PASS: $ROWS transactions"
  echo
  echo "| read | ms | items | total_count |"
  echo "| --- | ---: | ---: | ---: |"
  for r in "${RESULTS[@]}"; do IFS='|' read -r a b c d <<<"$r"; echo "| $a | $b | $c | $d |"; done
  echo
  for n in "${NOTES[@]}"; do echo "- $n"; done
  echo
  for f in "${PLANS[@]}"; do
    echo "plan $(basename "$f"):"
    grep -E 'Limit|Scan|Sort|Execution Time|Planning Time|Buffers: shared' "$f" | head -n 8 | sed 's/^/    /'
  done
  [ "$SLOW_MS" != 0 ] && [ -r "$PG_LOG" ] || return 0
  # The service's statements over SLOW_MS in this pass, as auto_explain logged them.
  tail -c +$((log_from + 1)) "$PG_LOG" | awk -v db="@$DB " '
    /^[0-9]{4}-[0-9]{2}-[0-9]{2} / { keep = index($0, db) && index($0, "duration:") }
    keep' >"$OUT/$TAG-slow-statements.log"
  echo
  echo "statements over $SLOW_MS ms in this pass (auto_explain; all in $OUT/$TAG-slow-statements.log):"
  python3 - "$OUT/$TAG-slow-statements.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
entries = re.split(r"^(?=\d{4}-\d\d-\d\d )", text, flags=re.M)
groups = {}
for e in entries:
    m = re.search(r"duration: ([0-9.]+) ms", e)
    q = re.search(r"Query Text: (.*)", e)
    if not m or not q or "EXPLAIN" in q.group(1) or "PREPARE page" in q.group(1) or "pg_stat_activity" in q.group(1):
        continue
    text = re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", q.group(1))[:200]
    scan = re.search(r"(Scan[^(]*)\(cost[^)]*\) \(actual[^)]*?rows=(\d+)", e)
    top = re.search(r"^\s*([A-Z][A-Za-z ]+?)  \(cost", e, re.M)
    key = text + f"  [{top.group(1) if top else '?'}" + (f"; {scan.group(1).strip()}: {scan.group(2)} rows" if scan else "") + "]"
    groups.setdefault(key, []).append((float(m.group(1)), e))
for key, runs in groups.items():
    worst = max(runs)
    print(f"- {len(runs)} runs, {min(runs)[0]:.0f} to {worst[0]:.0f} ms: {key}")
    plan = [l for l in worst[1].splitlines()
            if re.search(r"(Limit|Scan|Sort|Aggregate|Append|Merge|Result|Buffers: shared|SubPlan|InitPlan)", l)]
    for l in plan[:14]:
        print("      " + l.rstrip())
PY
}

measure "no statistics (as loaded)" as-loaded
if [ "${ANALYZE:-0}" = 1 ]; then
  echo "== ANALYZE"
  psql "$PG/$DB" -qc "ANALYZE"
  measure "after ANALYZE" analyzed
fi

echo
echo "rows: $(psql "$PG/$DB" -Atc "SELECT format('transactions %s, entries %s, accounts %s (labelled %s), busy account from-side %s, reference %s: %s, labelled transactions %s',
  (SELECT count(*) FROM transactions), (SELECT count(*) FROM entries), (SELECT count(*) FROM accounts),
  (SELECT count(*) FROM accounts WHERE metadata IS NOT NULL),
  (SELECT count(*) FROM transactions WHERE from_account_id = '$BUSY'),
  '$REF', (SELECT count(*) FROM transactions WHERE reference = '$REF'),
  (SELECT count(*) FROM transactions WHERE metadata IS NOT NULL))")"
echo "load: ${LOAD_SECONDS}s for $ROWS transactions ($LOAD_JOBS sessions)"
echo "machine: $(nproc) CPUs; $(free -g | awk '/^Mem:/ { print $2 " GB memory, " $7 " GB available" }'); $(psql "$PG/postgres" -Atc "SELECT 'Postgres ' || current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers') || ', work_mem ' || current_setting('work_mem')")"
free -g
