#!/usr/bin/env bash
# Starts the release `portitor serve` on DATA_DIR (a history written by the
# `history` example), waits for `/readyz`, then sends SECONDS of a tenant's
# traffic (scripts/wrk-traffic.lua: new orders, failed-queue pages walked
# page after page, the hourly chart, the order list; CONNECTIONS connections, each
# pausing PAUSE_MS between requests) and prints the server's resident
# memory at ready, every minute, and at the end, with its peak (VmHWM)
# (BENCHMARKS "Start-up and memory against history").
# Usage: scripts/memory-under-traffic.sh DATA_DIR [BINARY]
#   (SECONDS_OF_TRAFFIC=600 CONNECTIONS=4 PAUSE_MS=10 COMPANY=history)
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="$1"
bin="${2:-${CARGO_TARGET_DIR:-target}/release/portitor}"
seconds="${SECONDS_OF_TRAFFIC:-600}"
connections="${CONNECTIONS:-4}"
pause="${PAUSE_MS:-10}"
company="${COMPANY:-history}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
export PORTITOR_AUTH__HS256_SECRET="traffic-bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export RUST_LOG=warn
source_token=$("$bin" token --company "$company" --role source-adapter --ttl 7200)
admin_token=$("$bin" token --company "$company" --role tenant-admin --ttl 7200)
source scripts/serve-until-ready.sh
serve_until_ready "$data_dir" "$bin"
printf 'ready in %.2f s, resident %s MB\n' "$(echo "$(date +%s.%N) - $started" | bc)" "$(resident_mb)"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/wrk-traffic.lua "http://127.0.0.1:$port" -- \
    "$company" "$source_token" "$admin_token" "$PWD/tests/fixtures/shopify-orders-create.json" "$pause" \
    > /tmp/wrk-traffic.out 2>&1 &
wrk_pid=$!
for ((minute = 1; minute * 60 <= seconds; minute++)); do
    sleep 60
    kill -0 $pid 2>/dev/null || { echo "the server exited" >&2; exit 1; }
    echo "after ${minute} min: resident $(resident_mb) MB"
done
wait $wrk_pid
grep RESULT /tmp/wrk-traffic.out
echo "after traffic: resident $(resident_mb) MB, peak $(resident_mb VmHWM) MB"
