#!/usr/bin/env bash
# Fills a running system (deploy/start.sh, or docker compose) with demo data:
# users and accounts, deposits, transfers, orders reserved, captured and
# released, and advances. Safe to run more than once (order ids are picked
# past the ones already used).
# It does so with least privilege, like any client: the operator's bootstrap
# key (API_TOKEN) only makes the seeder a key on each service with the scopes
# it uses (kept in KEYS_DIR, default .run), so every transaction and advance
# it makes says `created_by: seed-...`.
#   deploy/seed.sh   [AM=http://127.0.0.1:8080 ADV=http://127.0.0.1:8081 API_TOKEN=dev-token KEYS_DIR=.run]
set -euo pipefail
AM=${AM:-http://127.0.0.1:8080}
ADV=${ADV:-http://127.0.0.1:8081}
AUTH="Authorization: Bearer ${API_TOKEN:-dev-token}"
KEYS_DIR=${KEYS_DIR:-.run}
mkdir -p "$KEYS_DIR"
(umask 077; printf '%s' "${API_TOKEN:-dev-token}" >"$KEYS_DIR/operator.token")
"$(dirname "$0")/api-key.sh" "$AM" "$KEYS_DIR/operator.token" seed \
  accounts:read,accounts:write,money:write,orders:write,reports:read "$KEYS_DIR/seed-accounts-manager.key"
"$(dirname "$0")/api-key.sh" "$ADV" "$KEYS_DIR/operator.token" seed \
  advances:read,advances:write "$KEYS_DIR/seed-advances-service.key" \
  "/api/v1/advances?account_id=00000000-0000-0000-0000-000000000000"
AM_AUTH="Authorization: Bearer $(cat "$KEYS_DIR/seed-accounts-manager.key")"
ADV_AUTH="Authorization: Bearer $(cat "$KEYS_DIR/seed-advances-service.key")"

post() { # url, body: with the seeder's key of the service the url names
  local auth=$AM_AUTH
  case $1 in "$ADV"*) auth=$ADV_AUTH ;; esac
  curl -fsS -H "$auth" -H 'Content-Type: application/json' -d "$2" "$1"
}
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"; }

# A run-specific base so that repeated seeding uses fresh order ids and users.
BASE=$(( $(date +%s) % 100000 * 1000 ))
declare -a ACCOUNTS
names=(alice bob carol dave erin frank grace heidi)
for i in "${!names[@]}"; do
  user=$((BASE + i + 1))
  account=$(post "$AM/api/v1/deposits" "{\"user_id\": $user, \"amount\": \"$(( (i + 1) * 1000 )).00\", \"description\": \"opening deposit for ${names[$i]}\"}" | field to_account_id)
  ACCOUNTS+=("$account")
  echo "user $user (${names[$i]}): account $account"
done
post "$AM/api/v1/deposits" "{\"user_id\": $((BASE + 1)), \"currency\": \"EUR\", \"amount\": \"250.00\"}" >/dev/null

for i in $(seq 0 15); do
  from=${ACCOUNTS[$(( i % 8 ))]}; to=${ACCOUNTS[$(( (i * 3 + 1) % 8 ))]}
  [ "$from" = "$to" ] && continue
  post "$AM/api/v1/transfers" "{\"from_account_id\": \"$from\", \"to_account_id\": \"$to\", \"amount\": \"$(( i * 7 + 3 )).50\", \"description\": \"seed transfer $i\"}" >/dev/null || true
done
echo "transfers done (a few may be refused for funds: those show as failed transactions)"

services=("1:delivery" "2:taxi" "3:food")
for i in $(seq 1 12); do
  order=$((BASE + i)); account=${ACCOUNTS[$(( i % 8 ))]}; svc=${services[$(( i % 3 ))]}
  post "$AM/api/v1/reservations" "{\"account_id\": \"$account\", \"order_id\": $order, \"service_id\": ${svc%%:*}, \"service_name\": \"${svc#*:}\", \"amount\": \"$(( i * 5 )).00\"}" >/dev/null
  case $(( i % 4 )) in
    0|1) curl -fsS -H "$AM_AUTH" -X POST "$AM/api/v1/reservations/$order/capture" >/dev/null ;;
    2) curl -fsS -H "$AM_AUTH" -X POST "$AM/api/v1/reservations/$order/release" >/dev/null ;;
    *) ;; # left reserved
  esac
done
echo "orders $((BASE + 1))..$((BASE + 12)): captured, released and still reserved"

for i in 0 1 2; do
  account=${ACCOUNTS[$i]}
  advance=$(post "$ADV/api/v1/advances" "{\"account_id\": \"$account\", \"amount\": \"$(( (i + 1) * 120 )).00\", \"installments\": $(( 3 * (i + 1) ))}" | field advance_id)
  echo "advance $advance for account $account"
done

echo
echo "see: curl -H '$AUTH' '$AM/api/v1/transactions?limit=20'"
echo "     curl -H '$AUTH' '$AM/api/v1/reports/revenue?month=$(date -u +%Y-%m)'"
echo "     curl -H '$AUTH' '$ADV/api/v1/advances?account_id=${ACCOUNTS[0]}'"
