#!/usr/bin/env bash
# The history endpoints of BENCHMARKS.md: 2,000 nodes at 10 and at 1,000 observations per node
# (with 10 and 100 stats samples, and one collection run per minute of history), on SQLite (a
# temp file) and PostgreSQL (127.0.0.1:5432, databases bench_history_obs10 /
# bench_history_obs1000, recreated); `pnode-api bench --group history`, uncached. Loopback only.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p pnode-api
bin=target/release/pnode-api
export RUST_LOG=warn
for depth in "10 10" "1000 100"; do
  set -- $depth
  name="bench_history_obs$1"
  rm -f ${TMPDIR:-/tmp}/$name.db*
  echo "=== sqlite, $1 observations/node, $2 samples/node"
  DATABASE_URL="sqlite://${TMPDIR:-/tmp}/$name.db?mode=rwc" $bin bench --group history --nodes 2000 --observations-per-node $1 --samples-per-node $2 --requests 500 --concurrency 4
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
  echo "=== postgres, $1 observations/node, $2 samples/node"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$name" $bin bench --group history --nodes 2000 --observations-per-node $1 --samples-per-node $2 --requests 500 --concurrency 4
done
