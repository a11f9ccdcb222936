# Sourced by bench/run.sh, bench/soak.sh and bench/events.sh (from the
# repository's root): the settings they share, the local Postgres and
# RabbitMQ started, and where the release binaries are.
#   BENCH_BIN    a folder of already built binaries (to compare two builds);
#                without it, release_bins builds them
#   PGHOST_URL   the Postgres server (postgres://postgres@127.0.0.1:5432)

# As deployed (deploy/Dockerfile): two malloc arenas per process.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
TOKEN=bench-token
OUT=target/bench
mkdir -p "$OUT"
deploy/services.sh >/dev/null
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}

# release_bins NAME...: builds these binaries in release mode, unless
# BENCH_BIN names a folder of built ones.
release_bins() {
  [ -z "${BENCH_BIN:-}" ] || return 0
  echo "== building (release)"
  local bins=()
  for name in "$@"; do bins+=(--bin "$name"); done
  cargo build --release "${bins[@]}" 2>&1 | tail -n 1
}
