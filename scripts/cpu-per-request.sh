#!/usr/bin/env bash
# The server's CPU per request under wrk, user and system apart, for the
# order API and the per-file-fsync baseline (runtime/examples/ingest_baseline.rs):
# where a CPU-bound server's time goes, which requests/s alone do not say.
# Each measurement starts a fresh server on a fresh data directory with the
# pipeline off, runs `wrk -t2 -cCONNS -dDURATION` with scripts/wrk-ingest.lua,
# and reads the server's utime and stime from /proc/PID/stat before and after.
#   ROUNDS (3), CONNS (64), DURATION (10s), KINDS ("order baseline");
#   PORTITOR_BIN: the portitor build to measure (default: this tree's release build).
# The data directories are kept until the run ends (see scripts/bench-ingest.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-64}"
DURATION="${DURATION:-10s}"
KINDS="${KINDS:-order baseline}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release -p portitor --bin portitor --example ingest_baseline
target="${CARGO_TARGET_DIR:-target}/release"
bin="${PORTITOR_BIN:-$target/portitor}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export PORTITOR_AUTH__HS256_SECRET="bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
token=$("$bin" token --company acme --role source-adapter --ttl 7200)
ticks=$(getconf CLK_TCK)

measure() { # kind
  local dir="$work/data-$RANDOM$RANDOM" url pid
  rm -f "$work/out"
  if [ "$1" = baseline ]; then
    "$target/examples/ingest_baseline" "$dir" 127.0.0.1:18091 > "$work/out" 2>&1 &
    url=http://127.0.0.1:18091/acme/order
  else
    PORTITOR_PIPELINE__WORKERS=0 RUST_LOG=error "$bin" serve --listen 127.0.0.1:18090 --data-dir "$dir" > "$work/out" 2>&1 &
    url=http://127.0.0.1:18090/acme/order
  fi
  pid=$!
  until grep -q listening "$work/out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "the server exited:" >&2; cat "$work/out" >&2; exit 1; }
    sleep 0.1
  done
  local before after line
  before=$(awk '{ print $14, $15 }' "/proc/$pid/stat")
  line=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s scripts/wrk-ingest.lua "$url" -- "$token" order \
    "$PWD/tests/fixtures/shopify-orders-create.json" | grep RESULT)
  after=$(awk '{ print $14, $15 }' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  # Requests from wrk's requests/s and the run's length.
  echo "$1 $line $before $after" | awk -v ticks="$ticks" -v seconds="${DURATION%s}" '{
    split($3, r, "="); requests = r[2] * seconds
    usr = ($(NF-1) - $(NF-3)) / ticks * 1e6 / requests; sys = ($NF - $(NF-2)) / ticks * 1e6 / requests
    printf "%s: %s requests/s, %s, user %.0f µs, system %.0f µs, total %.0f µs per request\n", $1, r[2], $5, usr, sys, usr + sys }'
}

for round in $(seq "$ROUNDS"); do
  for kind in $KINDS; do
    echo "round $round, $CONNS connections, $(measure "$kind")"
  done
done
