#!/bin/sh
# Makes sure FILE holds a working API key of a service, made through its
# admin route with an admin (e.g. bootstrap) key: a key already in FILE that
# still works is kept; otherwise a new one named NAME-<UTC time>-<4 hex> with SCOPES
# is made and its secret (shown once) written to FILE, readable by its owner
# only. Secrets go through files and stdin, never the command line or a log.
#   deploy/api-key.sh URL ADMIN_TOKEN_FILE NAME SCOPES FILE [CHECK_PATH]
#   e.g. deploy/api-key.sh http://127.0.0.1:8080 .run/admin.token advances-service \
#          accounts:read,money:write,reports:read .run/advances-service.key
# CHECK_PATH is a GET the key may make (default: an account that does not
# exist, which a key with accounts:read is answered 404).
set -eu
url=$1; admin_file=$2; name=$3; scopes=$4; file=$5
check=${6:-/api/v1/accounts/00000000-0000-0000-0000-000000000000}

auth() { printf 'Authorization: Bearer %s\n' "$(cat "$1")"; }

if [ -s "$file" ]; then
  code=$(auth "$file" | curl -s -o /dev/null -w '%{http_code}' -H @- "$url$check" || true)
  case $code in
    401|403|000) echo "the key in $file no longer works ($code); making a new one" >&2 ;;
    *) echo "keeping the key in $file" >&2; exit 0 ;;
  esac
fi

full_name="$name-$(date -u +%Y%m%d%H%M%S)-$(od -An -N2 -tx1 /dev/urandom | tr -d " \n")"
scopes_json=$(printf '%s' "$scopes" | sed 's/[^,][^,]*/"&"/g; s/^/[/; s/$/]/')
body=$(auth "$admin_file" | curl -fsS -H @- -H 'Content-Type: application/json' \
  -d "{\"name\": \"$full_name\", \"scopes\": $scopes_json}" "$url/api/v1/admin/api-keys")
secret=$(printf '%s' "$body" | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
if [ -z "$secret" ]; then
  echo "no secret in the answer of $url/api/v1/admin/api-keys" >&2
  exit 1
fi
(umask 077; printf '%s' "$secret" >"$file")
echo "made key $full_name ($scopes) in $file" >&2
