#!/usr/bin/env bash
# The dashboard-backend benchmark of BENCHMARKS.md: 2,000 nodes (10 observations per node) and
# 20,000 nodes (50 observations per node), each on SQLite (a temp file) and PostgreSQL
# (127.0.0.1:5432, databases bench_cache_2k / bench_cache_20k, recreated). For each, `pnode-api
# bench` runs its uncached and cached scenarios and a fleet of 50 clients polling every 3 s while
# a write lands every 6 s (the dashboards' 30 s and the collector's 60 s, ten times faster), for
# 60 s. Everything runs on loopback.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p pnode-api
bin=target/release/pnode-api
export RUST_LOG=warn
for size in "2k 2000 10 200" "20k 20000 50 50"; do
  set -- $size
  name="bench_cache_$1"
  rm -f ${TMPDIR:-/tmp}/$name.db*
  echo "=== sqlite, $2 nodes, $3 observations/node"
  DATABASE_URL="sqlite://${TMPDIR:-/tmp}/$name.db?mode=rwc" $bin bench --nodes $2 --observations-per-node $3 --samples-per-node 10 --requests $4 --concurrency 4
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
  echo "=== postgres, $2 nodes, $3 observations/node"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$name" $bin bench --nodes $2 --observations-per-node $3 --samples-per-node 10 --requests $4 --concurrency 4
done
