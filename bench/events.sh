#!/usr/bin/env bash
# What publishing ledger events costs: uniform transfers at 64 connections
# with and without EVENTS_AMQP_URL, alternating ROUNDS times on one database
# (so both see the same table sizes), and the publish lag under that load
# (p99 from the events_publish_lag_seconds histogram, the runs with events
# only). Prints one line per run and the ratio of the medians.
#   bench/events.sh   SECONDS_PER_RUN=10, ROUNDS=3, CONNS=64, QUEUE_POLICY
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
source bench/common.sh
release_bins accounts-manager loadgen

AM_ADDR=127.0.0.1:18080
VHOST=bench_events_$$
cleanup() { [ -n "${AM_PID:-}" ] && kill "$AM_PID" 2>/dev/null; rabbitmqctl delete_vhost $VHOST >/dev/null 2>&1; true; }
trap cleanup EXIT
rabbitmqctl add_vhost $VHOST >/dev/null && rabbitmqctl set_permissions -p $VHOST guest '.*' '.*' '.*' >/dev/null
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS bench_events WITH (FORCE)" -c "CREATE DATABASE bench_events"

# start_am [EVENTS_AMQP_URL]
start_am() {
  [ -n "${AM_PID:-}" ] && kill "$AM_PID" && wait "$AM_PID" 2>/dev/null || true
  DATABASE_URL="$PG/bench_events" API_TOKENS=$TOKEN BIND_ADDR=$AM_ADDR DATABASE_POOL_SIZE=32 \
    HTTP_WORKERS=2 RUST_LOG=warn EVENTS_AMQP_URL="${1:-}" EVENTS_POLL_INTERVAL="${EVENTS_POLL_INTERVAL:-}" \
    "$BIN/accounts-manager" >>"$OUT/accounts-manager-events.log" 2>&1 &
  AM_PID=$!
  until curl -fsS "http://$AM_ADDR/readyz" >/dev/null 2>&1; do sleep 0.2; done
}
metric() { curl -fsS "http://$AM_ADDR/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# The lag histogram's cumulative buckets, "le count" per line.
buckets() { curl -fsS "http://$AM_ADDR/metrics" | sed -n 's/^events_publish_lag_seconds_bucket{le="\([^"]*\)"} \([0-9]*\)/\1 \2/p'; }
# Waits until everything committed so far is published.
drained() { until [ "$(metric events_pending)" = 0 ]; do sleep 0.5; done; }

start_am
echo "== funding 10,000 accounts"
$BIN/loadgen setup "http://$AM_ADDR" $TOKEN 10000 "$OUT/accounts.txt"
$BIN/loadgen run "http://$AM_ADDR" $TOKEN "$OUT/accounts.txt" uniform 16 3 >/dev/null
psql "$PG/bench_events" -qc "VACUUM ANALYZE" -c "CHECKPOINT"
# A consumer's durable queue bound to every event, so that the broker keeps
# (and writes to disk) what is published, as it would in production.
AMQP="amqp://guest:guest@127.0.0.1:5672/$VHOST"
# QUEUE_POLICY: a RabbitMQ policy for the consumer's queue, e.g.
# '{"queue-mode":"lazy"}' (messages straight to disk, as RabbitMQ advises for
# queues that build up; this bench's queue has no consumer and grows).
if [ -n "${QUEUE_POLICY:-}" ]; then
  rabbitmqctl set_policy -p $VHOST consumer '^bench-consumer$' "$QUEUE_POLICY" --apply-to queues >/dev/null
fi
$BIN/loadgen bind "$AMQP" ledger.events bench-consumer

printf '%-8s %5s %10s %8s %8s %7s %s\n' events conns per_s p50_ms p99_ms errors lag_p99_s
declare -a WITHOUT WITH
for round in $(seq 1 "$ROUNDS"); do
  for events in off on; do
    if [ $events = on ]; then start_am "$AMQP"; drained; before=$(buckets); else start_am; fi
    line=$($BIN/loadgen run "http://$AM_ADDR" $TOKEN "$OUT/accounts.txt" uniform "$CONNS" "$SECONDS_PER_RUN")
    per_s=$(echo "$line" | sed -n 's/.*"per_second":\([0-9.]*\).*/\1/p')
    p50=$(echo "$line" | sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p')
    p99=$(echo "$line" | sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p')
    errors=$(echo "$line" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')
    lag=-
    if [ $events = on ]; then
      drained
      # p99 of this run's lags: the smallest bucket holding 99% of them.
      lag=$(join <(echo "$before") <(buckets) | awk '
        { le[NR] = $1; n[NR] = $3 - $2 } END {
          total = n[NR]; for (i = 1; i <= NR; i++) if (n[i] >= 0.99 * total) { print "<= " le[i]; exit } }')
      WITH+=("${per_s%.*}")
    else
      WITHOUT+=("${per_s%.*}")
    fi
    printf '%-8s %5s %10s %8s %8s %7s %s\n' $events "$CONNS" "${per_s%.*}" "$p50" "$p99" "$errors" "$lag"
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
off=$(median "${WITHOUT[@]}"); on=$(median "${WITH[@]}")
echo "median without events: $off/s, with events: $on/s, ratio $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')"
echo "published: $(metric events_published_total) events in the last run's instance"
