#!/usr/bin/env bash
# The view benchmark of BENCHMARKS.md: 2,000 nodes at 10 and at 1,000 observations per node, on
# SQLite (a temp file) and PostgreSQL (127.0.0.1:5432, databases bench_obs10 / bench_obs1000,
# recreated). Everything runs on loopback.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p pnode-api
bin=target/release/pnode-api
export RUST_LOG=warn
for depth in "10 10" "1000 100"; do
  set -- $depth
  name="obs$1"
  rm -f ${TMPDIR:-/tmp}/bench-$name.db*
  echo "=== sqlite, $1 observations/node, $2 samples/node"
  DATABASE_URL="sqlite://${TMPDIR:-/tmp}/bench-$name.db?mode=rwc" $bin bench --nodes 2000 --observations-per-node $1 --samples-per-node $2 --requests 1000 --concurrency 4
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS bench_$name" -c "CREATE DATABASE bench_$name"
  echo "=== postgres, $1 observations/node, $2 samples/node"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/bench_$name" $bin bench --nodes 2000 --observations-per-node $1 --samples-per-node $2 --requests 1000 --concurrency 4
done
