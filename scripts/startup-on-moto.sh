#!/usr/bin/env bash
# Start-up against a history on S3 (BENCHMARKS "Start-up and memory against
# history"): starts moto's S3 server, fills its bucket with ORDERS orders of
# history through the store's API (the `history` example), writes their
# derived state (`portitor reindex`), then times each BINARY's start to
# `/readyz` on that store with scripts/startup-time.sh, ROUNDS times,
# alternating the binaries.
# Usage: scripts/startup-on-moto.sh BINARY [BINARY…]   (ORDERS=25000 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
orders="${ORDERS:-25000}"
rounds="${ROUNDS:-2}"
target="${CARGO_TARGET_DIR:-target}"
history="${HISTORY_BIN:-$target/release/examples/history}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
moto=$!
work=$(mktemp -d)
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$port', region_name='us-east-1').create_bucket(Bucket='portitor')"
export PORTITOR_STORE__BACKEND=s3 PORTITOR_STORE__S3__BUCKET=portitor PORTITOR_STORE__S3__ENDPOINT="http://127.0.0.1:$port" \
    PORTITOR_STORE__S3__REGION=us-east-1 PORTITOR_STORE__S3__ACCESS_KEY_ID=test PORTITOR_STORE__S3__SECRET_ACCESS_KEY=test \
    PORTITOR_STORE__S3__TIMEOUT_MS=60000
echo "history: $("$history" --store --orders "$orders" 2>&1 | tail -1)"
started=$(date +%s.%N)
"$1" reindex --data-dir "$work/reindex" > /dev/null
printf 'reindex (%s): %.1f s\n' "$1" "$(echo "$(date +%s.%N) - $started" | bc)"
for ((round = 1; round <= rounds; round++)); do
    for bin in "$@"; do
        mkdir -p "$work/data-$round"
        echo "round $round, $bin: $(scripts/startup-time.sh "$work/data-$round" "$bin")"
    done
done
