#!/usr/bin/env bash
# The memory soak of BENCHMARKS.md: a generated network of 2,000 nodes × 1,000 observations (and
# 100 stats samples) per node, on SQLite (a file under $TMPDIR) and on PostgreSQL (127.0.0.1:5432,
# database soak_view), served by `pnode-api serve --no-collector` and driven by `pnode-api soak`
# with full-view requests at concurrency 8. Everything runs on loopback.
#
# Usage: scripts/soak-view.sh [REQUESTS] [BINARY] [BACKENDS]
#   REQUESTS  full-view requests per backend (default 10000)
#   BINARY    the pnode-api to measure (default: build the release binary, default features)
#   BACKENDS  "sqlite postgres" (default), or one of them
# The generated databases are kept and reused; REGENERATE=1 makes them anew.
set -eu
cd "$(dirname "$0")/.."
requests=${1:-10000}
bin=${2:-}
backends=${3:-sqlite postgres}
if [ -z "$bin" ]; then
  cargo build --release -p pnode-api
  bin=target/release/pnode-api
fi
dir=${TMPDIR:-/tmp}
port=18181
network="--nodes 2000 --observations-per-node 1000 --samples-per-node 100"

for backend in $backends; do
  case $backend in
    sqlite)
      url="sqlite://$dir/soak-view.db?mode=rwc"
      fresh=$([ -f "$dir/soak-view.db" ] && echo no || echo yes)
      [ "${REGENERATE:-}" = 1 ] && rm -f "$dir"/soak-view.db* && fresh=yes
      ;;
    postgres)
      url="postgres://postgres@127.0.0.1:5432/soak_view"
      exists=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'soak_view'")
      fresh=$([ "$exists" = 1 ] && echo no || echo yes)
      if [ "${REGENERATE:-}" = 1 ] || [ "$fresh" = yes ]; then
        psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS soak_view" -c "CREATE DATABASE soak_view"
        fresh=yes
      fi
      ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  if [ "$fresh" = yes ]; then
    DATABASE_URL=$url RUST_LOG=warn $bin generate $network
  fi

  echo "=== $backend: $requests full views at concurrency 8 ($bin)"
  DATABASE_URL=$url PNODE_BIND=127.0.0.1:$port RUST_LOG=warn $bin serve --no-collector &
  server=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break
    sleep 0.1
  done
  status=0
  $bin soak --url "http://127.0.0.1:$port" --requests "$requests" --concurrency 8 --sample-every 30s || status=$?
  kill -TERM $server
  wait $server || true
  [ $status = 0 ] || echo "=== $backend: the soak failed (exit $status)"
done
