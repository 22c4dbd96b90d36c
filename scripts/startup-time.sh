#!/usr/bin/env bash
# Starts the release `portitor serve` on DATA_DIR and prints the time from
# the process start to `/readyz` answering 200, and the server's resident
# memory then (BENCHMARKS "Start-up against history"). Fill DATA_DIR first
# with `cargo run --release -p portitor --example history -- --fs DATA_DIR`.
# Usage: scripts/startup-time.sh DATA_DIR [BINARY]
set -euo pipefail
data_dir="$1"
bin="${2:-${CARGO_TARGET_DIR:-target}/release/portitor}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PORTITOR_AUTH__HS256_SECRET="startup-bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export PORTITOR_PIPELINE__WORKERS=0   # measure start-up, not the pipeline picking orders up
export RUST_LOG=warn
start=$(date +%s.%N)
"$bin" serve --data-dir "$data_dir" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do
    kill -0 $pid 2>/dev/null || { echo "the server exited" >&2; exit 1; }
    sleep 0.05
done
ready=$(date +%s.%N)
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
printf 'ready in %.2f s, resident %d MB\n' "$(echo "$ready - $start" | bc)" "$((rss_kb / 1024))"
