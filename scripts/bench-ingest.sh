#!/usr/bin/env bash
# Load benchmark of ingest on the fs store, measured with wrk against the
# running servers, all side by side in one run:
#   - POST /{company}/order on portitor;
#   - the baseline: a minimal axum handler writing the same bytes with the
#     same durability (runtime/examples/ingest_baseline.rs);
#   - webhooks through the shopify-orders push plugin (platform-JWT auth,
#     so that both paths verify one token).
# Every request is a new order. Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release -p portitor --bin portitor --example ingest_baseline
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/portitor"
baseline="$target/release/examples/ingest_baseline"
plugin="$target/wasm-plugins/wasm32-wasip2/release/shopify_orders.wasm"
fixture="$PWD/tests/fixtures/shopify-orders-create.json"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; cp "$work/results" "${BENCH_RESULTS:-/tmp/bench-ingest-results.txt}" 2>/dev/null; rm -rf "$work"' EXIT

RUST_LOG=error "$bin" serve --listen 127.0.0.1:18090 --data-dir "$work/portitor" > "$work/portitor.out" &
"$baseline" "$work/baseline" 127.0.0.1:18091 > "$work/baseline.out" &
until grep -q listening "$work/portitor.out" 2>/dev/null && grep -q listening "$work/baseline.out" 2>/dev/null; do sleep 0.2; done
source_token=$("$bin" token --company acme --role source-adapter --ttl 7200)
admin_token=$("$bin" token --company acme --role tenant-admin --ttl 7200)
curl -sf -X PUT http://127.0.0.1:18090/acme/plugins/shopify-orders -H "Authorization: Bearer $admin_token" \
  -F 'manifest=kind = "push-source"
webhook = { scheme = "jwt" }' -F "component=@$plugin" > /dev/null

run() { # name url mode connections
  local threads=2; [ "$4" -lt 2 ] && threads=1
  local line
  line=$(wrk -t"$threads" -c"$4" -d"$DURATION" --latency -s scripts/wrk-ingest.lua "$2" -- "$source_token" "$3" "$fixture" | grep RESULT)
  echo "$1 $4 $line" >> "$work/results"
}
for c in 1 16 64; do
  run order-api http://127.0.0.1:18090/acme/order order "$c"
  run baseline http://127.0.0.1:18091/acme/order order "$c"
  run webhook http://127.0.0.1:18090/acme/webhooks/shopify/orders webhook "$c"
done

echo "| path | connections | requests/s | p50 ms | p99 ms | vs baseline | vs order API | errors / non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
awk '
  { split($4,a,"="); split($5,b,"="); split($6,q,"="); split($7,d,"="); split($8,e,"=");
    rps[$1,$2]=a[2]; p50[$1,$2]=b[2]; p99[$1,$2]=q[2]; err[$1,$2]=d[2] " / " e[2]; row[NR]=$1 " " $2 }
  END {
    for (i=1; i<=NR; i++) { split(row[i], k, " "); name=k[1]; conns=k[2];
      printf "| %s | %s | %.0f | %s | %s | %.2f× | %.2f× | %s |\n", name, conns, rps[name,conns], p50[name,conns], p99[name,conns],
        rps[name,conns]/rps["baseline",conns], rps[name,conns]/rps["order-api",conns], err[name,conns] }
  }' "$work/results"
