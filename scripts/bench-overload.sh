#!/usr/bin/env bash
# The overload benchmark of BENCHMARKS.md: `pnode-api bench --group overload` on 2,000 nodes (10
# observations and 10 samples per node), on SQLite (a temp file) and PostgreSQL (127.0.0.1:5432,
# database bench_overload, recreated): `?limit=50` pages and health checks alone, then under 64
# clients asking for the full view back to back with a write every 5 s, the view cache on and off.
# Given the path of another build's binary (e.g. one built from an older commit), it serves the
# same cases with it too, driven by this build. Everything runs on loopback.
#   scripts/bench-overload.sh [OTHER_PNODE_API_BINARY]
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p pnode-api
bin=target/release/pnode-api
export RUST_LOG=warn
args="--group overload --nodes 2000 --observations-per-node 10 --samples-per-node 10"
for server in "$bin" ${1:+"$1"}; do
  db=${TMPDIR:-/tmp}/bench_overload.db
  rm -f "$db"*
  echo "=== sqlite, served by $server"
  DATABASE_URL="sqlite://$db?mode=rwc" $bin bench $args --server-binary "$server"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS bench_overload" -c "CREATE DATABASE bench_overload"
  echo "=== postgres, served by $server"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/bench_overload" $bin bench $args --server-binary "$server"
done
