#!/usr/bin/env bash
# The demo soak of BENCHMARKS.md: `pnode-api demo` (collecting its simulated network every 5 s) runs
# for DURATION seconds (default 600) while a client asks for the full view without pause; prints
# the database size (file, WAL and shared memory) and the process RSS every minute.
# Everything runs on loopback.
set -eu
cd "$(dirname "$0")/.."
duration=${1:-600}
cargo build --release -p pnode-api
dir=$(mktemp -d)
DATABASE_URL="sqlite://$dir/demo.db?mode=rwc" PNODE_BIND=127.0.0.1:0 PNODE_LOG_FORMAT=json \
  RUST_LOG=info target/release/pnode-api demo > "$dir/demo.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
until grep -q '"message":"listening"' "$dir/demo.log"; do sleep 0.2; done
addr=$(grep -m1 '"message":"listening"' "$dir/demo.log" | sed 's/.*"addr":"\([^"]*\)".*/\1/')
until grep -q 'collection cycle finished' "$dir/demo.log"; do sleep 0.5; done

db_bytes() { cat "$dir"/demo.db* | wc -c; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
cycles() { grep -c 'collection cycle finished' "$dir/demo.log"; }
printf '%8s %12s %10s %8s %9s %7s\n' seconds db_bytes rss_kib cycles requests errors
requests=0 errors=0 started=$SECONDS next=0
while :; do
  elapsed=$((SECONDS - started))
  if [ "$elapsed" -ge "$next" ]; then
    printf '%8d %12d %10d %8d %9d %7d\n' "$elapsed" "$(db_bytes)" "$(rss_kib)" "$(cycles)" "$requests" "$errors"
    next=$((next + 60))
  fi
  [ "$elapsed" -ge "$duration" ] && break
  if curl -sf -o /dev/null --max-time 30 "http://$addr/api/pnodes"; then
    requests=$((requests + 1))
  else
    errors=$((errors + 1))
  fi
done
kill -TERM $pid
wait $pid && echo "demo exited 0"
trap - EXIT
