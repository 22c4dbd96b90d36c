#!/usr/bin/env bash
# Starts the release `portitor serve` on DATA_DIR and prints the time from
# the process start to `/readyz` answering 200, and the server's resident
# memory then (BENCHMARKS "Start-up against history"). Fill DATA_DIR first
# with `cargo run --release -p portitor --example history -- --fs DATA_DIR`.
# Usage: scripts/startup-time.sh DATA_DIR [BINARY]
set -euo pipefail
data_dir="$1"
bin="${2:-${CARGO_TARGET_DIR:-target}/release/portitor}"
export PORTITOR_AUTH__HS256_SECRET="startup-bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export PORTITOR_PIPELINE__WORKERS=0   # measure start-up, not the pipeline picking orders up
export RUST_LOG=warn
source "$(dirname "$0")/serve-until-ready.sh"
serve_until_ready "$data_dir" "$bin"
printf 'ready in %.2f s, resident %s MB\n' "$(echo "$(date +%s.%N) - $started" | bc)" "$(resident_mb)"
