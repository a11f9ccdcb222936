#!/usr/bin/env bash
# Starts the system locally against the local PostgreSQL and RabbitMQ:
# creates the databases, builds, runs the services in the background with
# their logs in .run/logs, and waits until they are ready.
#   deploy/start.sh          start (or restart) everything
#   INSTALLMENT_INTERVAL=2s SCHEDULER_INTERVAL=1s deploy/start.sh   a demo where a "week" is two seconds
#   deploy/stop.sh           stop it
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST_URL=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
API_TOKEN=${API_TOKEN:-dev-token}
AM_ADDR=${AM_ADDR:-127.0.0.1:8080}
ADV_ADDR=${ADV_ADDR:-127.0.0.1:8081}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
RUN_DIR=.run
mkdir -p "$RUN_DIR/logs"

deploy/services.sh
deploy/stop.sh >/dev/null 2>&1 || true

create_db() {
  if ! psql "$PGHOST_URL/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1; then
    psql "$PGHOST_URL/postgres" -qc "CREATE DATABASE $1"
    echo "created database $1"
  fi
}
create_db accounts_manager
create_db advances_service

echo "building (the first build takes a few minutes)"
cargo build --bin accounts-manager --bin advances-service

start() { # name, then VAR=value settings
  local name=$1; shift
  env "$@" nohup "${CARGO_TARGET_DIR:-target}/debug/$name" >"$RUN_DIR/logs/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}
# The bootstrap key (every scope) is the operator's, named "operator".
start accounts-manager DATABASE_URL="$PGHOST_URL/accounts_manager" API_TOKENS="operator=$API_TOKEN" BIND_ADDR="$AM_ADDR" \
  RATE_LIMIT="${RATE_LIMIT:-0}" RUST_LOG="${RUST_LOG:-info}" MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

wait_ready() { # name, url
  for _ in $(seq 1 60); do
    if curl -fsS "$2/readyz" >/dev/null 2>&1; then echo "$1 is ready at $2"; return 0; fi
    if ! kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "$1 did not become ready; its log:" >&2
  tail -n 20 "$RUN_DIR/logs/$1.log" >&2
  exit 1
}
wait_ready accounts-manager "http://$AM_ADDR"

# advances-service gets a key of its own for accounts-manager, made with the
# bootstrap key and holding only what it uses: reading accounts, deposits and
# withdrawals, and the history reconciliation reads.
(umask 077; printf '%s' "$API_TOKEN" >"$RUN_DIR/operator.token")
deploy/api-key.sh "http://$AM_ADDR" "$RUN_DIR/operator.token" advances-service \
  accounts:read,money:write,reports:read "$RUN_DIR/advances-service.key"
start advances-service DATABASE_URL="$PGHOST_URL/advances_service" API_TOKENS="operator=$API_TOKEN" BIND_ADDR="$ADV_ADDR" \
  AMQP_URL="$AMQP_URL" ACCOUNTS_URL="http://$AM_ADDR" ACCOUNTS_TOKEN="$(cat "$RUN_DIR/advances-service.key")" ROLES="${ROLES:-api,scheduler,worker}" \
  RATE_LIMIT="${RATE_LIMIT:-0}" \
  INSTALLMENT_INTERVAL="${INSTALLMENT_INTERVAL:-7d}" SCHEDULER_INTERVAL="${SCHEDULER_INTERVAL:-10s}" \
  RECONCILE_INTERVAL="${RECONCILE_INTERVAL:-1h}" RUST_LOG="${RUST_LOG:-info}" MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
wait_ready advances-service "http://$ADV_ADDR"

cat <<MSG

accounts-manager  http://$AM_ADDR   (docs: http://$AM_ADDR/docs/)
advances-service  http://$ADV_ADDR   (docs: http://$ADV_ADDR/docs/)  api, scheduler and worker; payments every ${INSTALLMENT_INTERVAL:-7d}
bearer token      $API_TOKEN   (bootstrap key "operator" of both services: every scope)
advances' key     $RUN_DIR/advances-service.key   (accounts:read, money:write, reports:read on accounts-manager)
logs              $RUN_DIR/logs/
stop              deploy/stop.sh
MSG
