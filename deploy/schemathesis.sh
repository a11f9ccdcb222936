#!/usr/bin/env bash
# Bad input from an outside tool: runs schemathesis with every check against
# both services' OpenAPI documents with an admin key. Starts its own
# accounts-manager and advances-service (debug builds) on fresh databases and
# a fresh RabbitMQ vhost, and fails on any finding: a 5xx, an answer or
# status the document does not describe, a request the document allows that
# is refused, one it forbids that is taken, a method that is not 405 with
# Allow, a route served without a key. The few rules a JSON Schema cannot
# state (a time relative to now, two fields that must differ, a token only
# the service makes) are in deploy/schemathesis_hooks.py, each with why.
#   deploy/schemathesis.sh                 both services
#   MAX_EXAMPLES=100 deploy/schemathesis.sh   more cases per operation (default 25)
#   ONLY=accounts-manager deploy/schemathesis.sh
# Needs schemathesis (`pip install schemathesis==4.32.5`; installed when missing),
# the local PostgreSQL and RabbitMQ (deploy/services.sh), and rabbitmqctl.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST_URL=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
ONLY=${ONLY:-}
ST_VERSION=4.32.5
RUN=$(mktemp -d)
SUFFIX="$$_$(date +%s)"
AM_DB="st_am_$SUFFIX"; ADV_DB="st_adv_$SUFFIX"; VHOST="st_$SUFFIX"
# A throwaway admin key (a bootstrap key: every scope), never printed.
TOKEN="st-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

if ! st --version 2>/dev/null | grep -q "$ST_VERSION"; then
  pip install -q "schemathesis==$ST_VERSION"
fi
export PYTHONPATH="$PWD/deploy${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks

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
# Where the hooks open an account for each advance the run makes.
export ST_ACCOUNTS_URL="http://127.0.0.1:$AM_PORT" ST_TOKEN="$TOKEN"
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
    --checks all \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" --seed 1 --no-color --generation-database none \
    --request-timeout 10) || status=1
  if grep -q '"level":"ERROR"' "$RUN/$1.log"; then
    echo "-- $1 logged errors:"; grep '"level":"ERROR"' "$RUN/$1.log" | tail -n 20
  fi
done
exit $status
