#!/usr/bin/env bash
# Does accounts-manager's memory stay flat under load? Funds 10,000 accounts,
# drives uniform transfers at 64 connections for SOAK_SECONDS (300), and
# prints the process's resident set size every SAMPLE seconds (30) and its
# peak at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECONDS=${SOAK_SECONDS:-300}
SAMPLE=${SAMPLE:-30}
source bench/common.sh
release_bins accounts-manager loadgen
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS bench_soak WITH (FORCE)" -c "CREATE DATABASE bench_soak"
AM_ADDR=127.0.0.1:18080
DATABASE_URL="$PG/bench_soak" API_TOKENS=$TOKEN BIND_ADDR=$AM_ADDR DATABASE_POOL_SIZE=32 HTTP_WORKERS=2 \
  RUST_LOG=warn "$BIN/accounts-manager" >"$OUT/accounts-manager-soak.log" 2>&1 &
AM_PID=$!
trap 'kill $AM_PID 2>/dev/null' EXIT
until curl -fsS "http://$AM_ADDR/readyz" >/dev/null 2>&1; do sleep 0.2; done
$BIN/loadgen setup "http://$AM_ADDR" $TOKEN 10000 "$OUT/accounts.txt"
rss() { awk '/^VmRSS/ { print $2 }' /proc/$AM_PID/status; }
echo "after funding: $(rss) kB"
$BIN/loadgen run "http://$AM_ADDR" $TOKEN "$OUT/accounts.txt" uniform 64 "$SOAK_SECONDS" >"$OUT/soak.json" &
LOAD=$!
for t in $(seq "$SAMPLE" "$SAMPLE" "$SOAK_SECONDS"); do
  sleep "$SAMPLE"
  echo "t=${t}s rss=$(rss) kB"
done
wait $LOAD
echo "requests: $(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$OUT/soak.json"), peak RSS: $(awk '/^VmHWM/ { print $2, $3 }' /proc/$AM_PID/status)"
