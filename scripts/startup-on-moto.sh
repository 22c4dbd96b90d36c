#!/usr/bin/env bash
# Start-up against a history on S3 (BENCHMARKS "Start-up and memory against
# history"): starts moto's S3 server, fills its bucket with ORDERS orders of
# history and their derived state through the store's API (the `history`
# example; REINDEX=1: events only, then `portitor reindex`), then times each
# BINARY's start to `/readyz` on that store with scripts/startup-time.sh,
# ROUNDS times, alternating the binaries.
# Usage: scripts/startup-on-moto.sh BINARY [BINARY…]   (ORDERS=25000 ROUNDS=2)
# S3_SERVER=garage: the same against a single-node Garage instead of moto
# (much faster to fill; GARAGE_DIR puts its files on a disk of your choice).
# FROM_DIR=DIR (moto only): fill the bucket from a history `history --fs DIR`
# wrote, inside moto's process (scripts/moto-from-dir.py: minutes, not hours).
# PAGES=1: then each BINARY's page times (scripts/page-times.sh), ROUNDS times;
# PAGES=first: the first BINARY's only.
# TRAFFIC_SECONDS=600: then the first BINARY's resident memory under that
# long a tenant's traffic on the same store (scripts/memory-under-traffic.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
orders="${ORDERS:-25000}"
rounds="${ROUNDS:-2}"
target="${CARGO_TARGET_DIR:-target}"
history="${HISTORY_BIN:-$target/release/examples/history}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
case "${S3_SERVER:-moto}" in
  moto)
    access_key=test secret_key=test region=us-east-1
    if [ -n "${FROM_DIR:-}" ]; then
        python3 scripts/moto-from-dir.py "$FROM_DIR" portitor -H 127.0.0.1 -p "$port" 2> "$work/moto.log" &
        server=$!
        until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
            kill -0 "$server" 2>/dev/null || { cat "$work/moto.log" >&2; exit 1; }
            sleep 1
        done
        echo "history: $(grep -m1 '^filled' "$work/moto.log")"
    else
        moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
        server=$!
        until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
            kill -0 "$server" 2>/dev/null || { cat "$work/moto.log" >&2; exit 1; }
            sleep 0.1
        done
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$port', region_name='us-east-1').create_bucket(Bucket='portitor')"
    fi
    ;;
  garage)
    [ -z "${FROM_DIR:-}" ] || { echo "FROM_DIR fills moto only" >&2; exit 2; }
    # A single-node Garage (the tools directory's, from `just setup`),
    # its metadata and data under GARAGE_DIR (default: the run's work dir).
    garage="${GARAGE_BIN:-$HOME/.cache/portitor-tools/bin/garage}"
    root="${GARAGE_DIR:-$work/garage}"
    mkdir -p "$root"
    rpc_port=$(free_port)
    # Two free ports asked for one after the other can be the same one.
    while [ "$rpc_port" = "$port" ]; do rpc_port=$(free_port); done
    cat > "$work/garage.toml" <<TOML
metadata_dir = "$root/meta"
data_dir = "$root/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage"
TOML
    "$garage" -c "$work/garage.toml" server > "$work/garage.log" 2>&1 &
    server=$!
    until "$garage" -c "$work/garage.toml" status > /dev/null 2>&1; do sleep 0.2; done
    node=$("$garage" -c "$work/garage.toml" node id -q | cut -c1-64)
    "$garage" -c "$work/garage.toml" layout assign "$node" -c 100G -z dc1 > /dev/null
    "$garage" -c "$work/garage.toml" layout apply --version 1 > /dev/null
    key=$("$garage" -c "$work/garage.toml" key create portitor)
    access_key=$(echo "$key" | awk '/Key ID/ {print $NF}')
    secret_key=$(echo "$key" | awk '/Secret key/ {print $NF}')
    "$garage" -c "$work/garage.toml" bucket create portitor > /dev/null
    "$garage" -c "$work/garage.toml" bucket allow --read --write --owner portitor --key "$access_key" > /dev/null
    region=garage
    ;;
  *) echo "S3_SERVER is moto or garage" >&2; exit 2 ;;
esac
export PORTITOR_STORE__BACKEND=s3 PORTITOR_STORE__S3__BUCKET=portitor PORTITOR_STORE__S3__ENDPOINT="http://127.0.0.1:$port" \
    PORTITOR_STORE__S3__REGION="$region" PORTITOR_STORE__S3__ACCESS_KEY_ID="$access_key" \
    PORTITOR_STORE__S3__SECRET_ACCESS_KEY="$secret_key" PORTITOR_STORE__S3__TIMEOUT_MS=60000
if [ -n "${FROM_DIR:-}" ]; then
    : # filled by moto-from-dir.py above
elif [ -n "${REINDEX:-}" ]; then
    echo "history: $("$history" --store --orders "$orders" --events-only 2>&1 | tail -1)"
    started=$(date +%s.%N)
    "$1" reindex --data-dir "$work/reindex" > /dev/null
    printf 'reindex (%s): %.1f s\n' "$1" "$(echo "$(date +%s.%N) - $started" | bc)"
else
    echo "history: $("$history" --store --orders "$orders" 2>&1 | tail -1)"
fi
# moto logs each request it answered: how many a start made, and how many of
# them were listings (empty on Garage). The requests include `/readyz`'s own
# probe of the store, one per poll.
s3_requests() { [ -f "$work/moto.log" ] && grep -c "${1:-}\" [0-9][0-9][0-9] " "$work/moto.log" || true; }
for ((round = 1; round <= rounds; round++)); do
    for bin in "$@"; do
        mkdir -p "$work/data-$round"
        before=$(s3_requests) listed=$(s3_requests 'list-type=2.*')
        started=$(scripts/startup-time.sh "$work/data-$round" "$bin")
        sleep 0.5 # moto logs a request just after answering it
        echo "round $round, $bin: $started${before:+, $(($(s3_requests) - before)) S3 requests, $(($(s3_requests 'list-type=2.*') - listed)) of them listings}"
    done
done
if [ -n "${PAGES:-}" ]; then
    page_bins=("$@")
    [ "$PAGES" = first ] && page_bins=("$1")
    for ((round = 1; round <= rounds; round++)); do
        for bin in "${page_bins[@]}"; do
            mkdir -p "$work/data-pages"
            echo "pages, round $round, $bin:"
            scripts/page-times.sh "$work/data-pages" "$bin"
        done
    done
fi
if [ -n "${TRAFFIC_SECONDS:-}" ]; then
    mkdir -p "$work/data-traffic"
    SECONDS_OF_TRAFFIC="$TRAFFIC_SECONDS" scripts/memory-under-traffic.sh "$work/data-traffic" "$1"
fi
