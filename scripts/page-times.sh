#!/usr/bin/env bash
# Starts the release `portitor serve` on DATA_DIR (a history written by the
# `history` example), then times the pages a dashboard asks for, each
# PAGE_ROUNDS times (the first is cold) with `curl -w %{time_total}`: the failed
# queue's first page, a page DEPTH entries deep reached after a name (its
# cursor taken once from an offset page), the same depth by offset, the
# first page of every order, and the hourly chart (BENCHMARKS "Start-up and
# memory against history").
# Usage: scripts/page-times.sh DATA_DIR [BINARY]   (DEPTH=10000 PAGE_ROUNDS=3 COMPANY=history)
# The pipeline does not run (its workers at 0): the pages alone are timed.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="$1"
bin="${2:-${CARGO_TARGET_DIR:-target}/release/portitor}"
depth="${DEPTH:-10000}"
rounds="${PAGE_ROUNDS:-3}"
company="${COMPANY:-history}"
export PORTITOR_AUTH__HS256_SECRET="page-bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export RUST_LOG=warn PORTITOR_PIPELINE__WORKERS=0
token=$("$bin" token --company "$company" --role tenant-admin --ttl 3600)
source scripts/serve-until-ready.sh
serve_until_ready "$data_dir" "$bin"
base="http://127.0.0.1:$port/$company"
get() { curl -fsS -H "Authorization: Bearer $token" "$base$1"; }
times() {
    local what="$1" path="$2" all=()
    for ((round = 1; round <= rounds; round++)); do
        all+=("$(curl -fsS -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base$path" |
            awk '{printf "%.0f", $1 * 1000}')")
    done
    echo "$what: $(IFS=,; echo "${all[*]}" | sed 's/,/, /g') ms"
}
times "failed queue, first page of 50" "/orders?state=failed&limit=50"
cursor=$(get "/orders?state=failed&offset=$((depth - 1))&limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("next") or "")')
total=$(get "/orders?state=failed&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "(the failed queue holds $total orders)"
if [ -n "$cursor" ]; then
    times "failed queue, page after entry $depth" "/orders?state=failed&limit=50&after=$cursor"
else
    echo "failed queue, page after entry $depth: no such page (or this build has no cursors)"
fi
times "failed queue, page at offset $depth" "/orders?state=failed&limit=50&offset=$depth"
times "every order, first page of 50" "/orders?state=all&limit=50"
times "hourly chart, 24 hours" "/stats/hourly?hours=24"
echo "resident $(resident_mb) MB"
