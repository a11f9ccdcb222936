#!/usr/bin/env bash
# Bad input from an outside tool: runs schemathesis against both services'
# OpenAPI documents with an admin key. Starts its own accounts-manager and
# advances-service (debug builds) on fresh databases and a fresh RabbitMQ
# vhost, and fails unless every generated request is answered without a 5xx
# and with a response that matches the documented schema, except the
# failures accepted in deploy/schemathesis-baseline.json (found in the
# ledger's money and order routes, listed there to be fixed by their owners;
# a failure not in it fails the run).
#   deploy/schemathesis.sh                 both services
#   MAX_EXAMPLES=100 deploy/schemathesis.sh   more cases per operation (default 25)
#   ONLY=accounts-manager deploy/schemathesis.sh
#   UPDATE_BASELINE=1 deploy/schemathesis.sh  accept this run's failures into the baseline
# Needs schemathesis (`pip install schemathesis==4.32.5`; installed when missing),
# the local PostgreSQL and RabbitMQ (deploy/services.sh), and rabbitmqctl.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST_URL=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
ONLY=${ONLY:-}
BASELINE="$PWD/deploy/schemathesis-baseline.json"
ST_VERSION=4.32.5
RUN=$(mktemp -d)
SUFFIX="$$_$(date +%s)"
AM_DB="st_am_$SUFFIX"; ADV_DB="st_adv_$SUFFIX"; VHOST="st_$SUFFIX"
# A throwaway admin key (a bootstrap key: every scope), never printed.
TOKEN="st-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

if ! st --version 2>/dev/null | grep -q "$ST_VERSION"; then
  pip install -q "schemathesis==$ST_VERSION"
fi
baseline=(--baseline "$BASELINE")
[ -n "${UPDATE_BASELINE:-}" ] && baseline+=(--baseline-update)

cleanup() {
  for pid in $(cat "$RUN"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep 1
  psql "$PGHOST_URL/postgres" -qc "DROP DATABASE IF EXISTS $AM_DB WITH (FORCE)" >/dev/null 2>&1 || true
  psql "$PGHOST_URL/postgres" -qc "DROP DATABASE IF EXISTS $ADV_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rabbitmqctl delete_vhost "$VHOST" >/dev/null 2>&1 || true
  rm -rf "$RUN"
}
trap cleanup EXIT

psql "$PGHOST_URL/postgres" -qc "CREATE DATABASE $AM_DB"
psql "$PGHOST_URL/postgres" -qc "CREATE DATABASE $ADV_DB"
rabbitmqctl add_vhost "$VHOST" >/dev/null
rabbitmqctl set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null

cargo build --bin accounts-manager --bin advances-service
BIN="${CARGO_TARGET_DIR:-target}/debug"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
AM_PORT=$(free_port); ADV_PORT=$(free_port)

start() { # name, then VAR=value settings
  local name=$1; shift
  env "$@" RUST_LOG=warn "$BIN/$name" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}
wait_ready() { # name, url
  for _ in $(seq 1 120); do
    curl -fsS "$2/readyz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "$1 did not become ready:" >&2; tail -n 20 "$RUN/$1.log" >&2; exit 1
}
start accounts-manager DATABASE_URL="$PGHOST_URL/$AM_DB" API_TOKENS="schemathesis=$TOKEN" \
  BIND_ADDR="127.0.0.1:$AM_PORT" DATABASE_POOL_SIZE=8
wait_ready accounts-manager "http://127.0.0.1:$AM_PORT"
start advances-service DATABASE_URL="$PGHOST_URL/$ADV_DB" API_TOKENS="schemathesis=$TOKEN" \
  BIND_ADDR="127.0.0.1:$ADV_PORT" AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$VHOST" \
  ACCOUNTS_URL="http://127.0.0.1:$AM_PORT" ACCOUNTS_TOKEN="$TOKEN" ROLES=api DATABASE_POOL_SIZE=8
wait_ready advances-service "http://127.0.0.1:$ADV_PORT"

status=0
for target in "accounts-manager $AM_PORT" "advances-service $ADV_PORT"; do
  set -- $target
  [ -n "$ONLY" ] && [ "$ONLY" != "$1" ] && continue
  echo "== schemathesis: $1"
  # From the run's folder, so that schemathesis's caches stay out of the tree.
  (cd "$RUN" && st run "http://127.0.0.1:$2/api-docs/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" --seed 1 --no-color --generation-database none \
    --request-timeout 10 "${baseline[@]}") || status=1
  if grep -q '"level":"ERROR"' "$RUN/$1.log"; then
    echo "-- $1 logged errors:"; grep '"level":"ERROR"' "$RUN/$1.log" | tail -n 20
  fi
done
exit $status
