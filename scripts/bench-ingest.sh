#!/usr/bin/env bash
# Load benchmark of ingest on the fs store, measured with wrk against the
# running servers, all side by side in one run:
#   - order-api: POST /{company}/order on portitor;
#   - baseline: a minimal axum handler writing the same bytes with the same
#     durability (runtime/examples/ingest_baseline.rs);
#   - webhook: webhooks through the shopify-orders push plugin (platform-JWT
#     auth, so that both portitor paths verify one token);
#   - order-api-group, webhook-group: the same with the fs store's group
#     commit (store.fs_sync = "group": writers share one syncfs; same
#     durability);
#   - order-api-journal, webhook-journal: the same with the write-ahead
#     journal (store.fs_sync = "journal", decision 0037);
#   - order-api-each, webhook-each: per-file fsync named explicitly;
#   - webhook-shadow: webhooks with the plugin's own version set as its
#     shadow (live calls copied to it after their answer, docs/DESIGN.md §10);
#     its line in the raw results ends with the shadow's counts
#     (equal/different/failed/skipped);
#   - webhook-unrecorded: webhooks with recordings off (recordings.keep_per_plugin = 0).
# Other paths run with the build's default.
# Every request is a new order. Each measurement starts a fresh server on a
# fresh data directory (a directory that already holds thousands of orders
# is slower to write into, which would favour whichever path runs first),
# the pipeline is off (PORTITOR_PIPELINE__WORKERS=0: this measures ingest),
# and each is repeated ROUNDS times, interleaved; the first table gives the
# median of each. The disk's speed drifts from minute to minute, so the
# second table pairs the measurements of one round (taken within a minute of
# each other) and gives the median of those per-round ratios.
# The data directories are kept until the run ends (deleting hundreds of
# thousands of files slows the next minutes' file creation on ext4), about
# 0.5 GB per measurement at 64 connections: 5 paths x 3 connection counts x
# 3 rounds need about 20 GB free.
# FRESH_FS=1 (root; scripts/fresh-fs.sh): each measurement's data directory
# is a freshly made ext4 without a journal, like this machine's disk, on a
# loop device over a file on that disk, unmounted and deleted after it. No
# measurement then meets inodes another one freed: ext4 without a journal
# skips every inode freed in the last 5 minutes when it allocates one, a
# scan that made up a fifth of the pipeline's CPU after the previous run's
# files were deleted (BENCHMARKS.md, "What bounds the pipeline").
# Each measurement also reads the server's user and system CPU time around
# the run (/proc/PID/stat; DURATION in seconds) and reports it per request.
# Prints markdown tables for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-1 16 64}"
PATHS="${PATHS:-order-api baseline webhook order-api-group webhook-group}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release -p portitor --bin portitor --example ingest_baseline
target="${CARGO_TARGET_DIR:-target}"
# PORTITOR_BIN: another build to measure instead of this one.
bin="${PORTITOR_BIN:-$target/release/portitor}"
# PREVIOUS_BIN: a second build (say, the previous commit's) measured in the
# same rounds as paths `order-api-prev` and `webhook-prev`, alternated with
# this one's: add them to PATHS.
previous_bin="${PREVIOUS_BIN:-}"
baseline="$target/release/examples/ingest_baseline"
plugin="$target/wasm-plugins/wasm32-wasip2/release/shopify_orders.wasm"
fixture="$PWD/tests/fixtures/shopify-orders-create.json"
work=$(mktemp -d)
results="$work/results"
trap 'kill $(jobs -p) 2>/dev/null || true; cp "$results" "${BENCH_RESULTS:-/tmp/bench-ingest-results.txt}" 2>/dev/null; [ -z "${FRESH_FS:-}" ] || scripts/fresh-fs.sh unmount "$work/fresh"; rm -rf "$work"' EXIT

# One key for every server of the run and the tokens (no key is built in;
# each fresh data directory would otherwise generate its own).
export PORTITOR_AUTH__HS256_SECRET="bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
source_token=$("$bin" token --company acme --role source-adapter --ttl 7200)
admin_token=$("$bin" token --company acme --role tenant-admin --ttl 7200)

wait_listening() { # until the server just started says so; stops the run if it exited
  until grep -q listening "$work/server.out" 2>/dev/null; do
    if ! kill -0 "$(cat "$work/pid")" 2>/dev/null; then
      echo "the server exited before listening:" >&2
      cat "$work/server.out" >&2
      exit 1
    fi
    sleep 0.1
  done
}

start_server() { # kind -> prints the base URL; leaves the server running as a job
  local dir="$work/data-$RANDOM$RANDOM"
  if [ -n "${FRESH_FS:-}" ]; then
    dir="$(scripts/fresh-fs.sh mount "$work/fresh")/data"
  fi
  rm -f "$work/server.out"
  if [ "$1" = baseline ]; then
    "$baseline" "$dir" 127.0.0.1:18091 > "$work/server.out" &
    echo $! > "$work/pid"
    wait_listening
    echo http://127.0.0.1:18091
    return
  fi
  local sync="" server="$bin"
  case "$1" in
    *-group) sync=group ;;
    *-each) sync=each ;;
    *-journal) sync=journal ;;
    *-prev) server="${previous_bin:?PREVIOUS_BIN names the build of the -prev paths}" ;;
  esac
  local keep=""
  [ "$1" = webhook-unrecorded ] && keep=0
  # One tenant sends everything: its share of plugin instances (4 by
  # default, past which a webhook is answered 429) is raised to the load.
  env PORTITOR_ENGINE__MAX_INSTANCES_PER_TENANT=64 \
  ${sync:+PORTITOR_STORE__FS_SYNC=$sync} ${keep:+PORTITOR_RECORDINGS__KEEP_PER_PLUGIN=$keep} PORTITOR_PIPELINE__WORKERS=0 RUST_LOG=error "$server" serve --listen 127.0.0.1:18090 --data-dir "$dir" > "$work/server.out" &
  echo $! > "$work/pid"
  wait_listening
  if [[ "$1" == webhook* ]]; then
    local installed
    installed=$(curl -sf -X PUT http://127.0.0.1:18090/acme/plugins/shopify-orders -H "Authorization: Bearer $admin_token" \
      -F 'manifest=kind = "push-source"
webhook = { scheme = "jwt" }' -F "component=@$plugin")
    if [ "$1" = webhook-shadow ]; then
      local version
      version=$(echo "$installed" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
      curl -sf -X PUT http://127.0.0.1:18090/acme/plugins/shopify-orders/shadow -H "Authorization: Bearer $admin_token" \
        -H 'content-type: application/json' -d "{\"version\": \"$version\"}" > /dev/null
    fi
  fi
  echo http://127.0.0.1:18090
}

measure() { # path connections round
  local url mode=order threads=2
  url=$(start_server "$1")
  case "$1" in
    webhook*) url="$url/acme/webhooks/shopify/orders"; mode=webhook ;;
    *) url="$url/acme/order" ;;
  esac
  [ "$2" -lt 2 ] && threads=1
  local line before after
  # The server's CPU (user, system clock ticks) around the run: what a
  # CPU-bound server spends per request, which requests/s alone do not say.
  before=$(awk '{ print $14, $15 }' "/proc/$(cat "$work/pid")/stat")
  line=$(wrk -t"$threads" -c"$2" -d"$DURATION" --latency -s scripts/wrk-ingest.lua "$url" -- "$source_token" "$mode" "$fixture" | grep RESULT)
  after=$(awk '{ print $14, $15 }' "/proc/$(cat "$work/pid")/stat")
  local extra=""
  if [ "$1" = webhook-shadow ]; then
    # What the shadow did meanwhile (this node's counts): proof that it ran.
    extra=" shadow=$(curl -sf "${url%/acme/*}/acme/plugins/shopify-orders/shadow" -H "Authorization: Bearer $admin_token" \
      | python3 -c 'import json,sys; c=json.load(sys.stdin)["counts"]; print("%d/%d/%d/%d" % (c["equal"], c["different"], c["failed"], c["skipped"]))')"
  fi
  local cpu
  cpu=$(echo "$line $before $after" | awk -v ticks="$(getconf CLK_TCK)" -v seconds="${DURATION%s}" '{
    split($2, r, "="); requests = r[2] * seconds
    printf "%.0f/%.0f", ($(NF-1) - $(NF-3)) / ticks * 1e6 / requests, ($NF - $(NF-2)) / ticks * 1e6 / requests }')
  echo "$1 $2 $line round=$3 cpu_us=$cpu$extra" >> "$results"
  local pid
  pid=$(cat "$work/pid")
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$work/server.out"
  [ -z "${FRESH_FS:-}" ] || scripts/fresh-fs.sh unmount "$work/fresh"
}

for round in $(seq "$ROUNDS"); do
  for c in $CONNS; do
    for path in $PATHS; do
      measure "$path" "$c" "$round"
    done
  done
done

echo "| path | connections | requests/s (median of $ROUNDS) | p50 ms | p99 ms | vs baseline | vs order API (same sync) | errors / non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
# The median run of each (path, connections), then the ratios of medians.
sort -k1,1 -k2,2n -t' ' "$results" | awk '
  { split($4,a,"="); key=$1 " " $2; n[key]++; r[key, n[key]]=a[2]; line[key, n[key]]=$0; order[key]=NR }
  END {
    for (key in n) {
      # pick the median by requests/s
      m = n[key]; for (i=1;i<=m;i++) idx[i]=i
      for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (r[key,idx[j]]+0 < r[key,idx[i]]+0) { t=idx[i]; idx[i]=idx[j]; idx[j]=t }
      med[key]=line[key, idx[int((m+1)/2)]]
    }
    for (key in med) print med[key]
  }' | awk -v paths="$PATHS" -v conns_list="$CONNS" '
  { split($4,a,"="); split($5,b,"="); split($6,q,"="); split($7,d,"="); split($8,e,"=");
    rps[$1,$2]=a[2]; p50[$1,$2]=b[2]; p99[$1,$2]=q[2]; err[$1,$2]=d[2] " / " e[2] }
  END {
    nc = split(conns_list, conns, " "); n = split(paths, names, " ")
    for (i=1; i<=nc; i++) for (j=1; j<=n; j++) { name=names[j]; c=conns[i];
      api = (name ~ /-group$/) ? "order-api-group" : (name ~ /-prev$/) ? "order-api-prev" : (name ~ /-each$/) ? "order-api-each" : (name ~ /-journal$/) ? "order-api-journal" : "order-api"
      # A ratio to a path not measured in this run is shown as a dash.
      vb = rps["baseline",c] > 0 ? sprintf("%.2f×", rps[name,c]/rps["baseline",c]) : "—"
      va = rps[api,c] > 0 ? sprintf("%.2f×", rps[name,c]/rps[api,c]) : "—"
      printf "| %s | %s | %.0f | %s | %s | %s | %s | %s |\n", name, c, rps[name,c], p50[name,c], p99[name,c], vb, va, err[name,c] }
  }'

echo
echo "Per-round ratios (each round's measurements side by side; median over $ROUNDS rounds, then each round's):"
echo
echo "| path | connections | vs baseline | vs order API (same sync) |"
echo "|---|---:|---|---|"
awk -v paths="$PATHS" -v rounds="$ROUNDS" -v conns_list="$CONNS" '
  function median(list,   v, m, i, j, t) {
    m = split(list, v, " ")
    for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (v[j]+0 < v[i]+0) { t=v[i]; v[i]=v[j]; v[j]=t }
    return v[int((m+1)/2)]
  }
  { split($4,a,"="); split($9,r,"="); rps[$1,$2,r[2]]=a[2] }
  END {
    nc = split(conns_list, conns, " "); n = split(paths, names, " ")
    for (i=1; i<=nc; i++) for (j=1; j<=n; j++) { name=names[j]; c=conns[i]
      if (name == "baseline") continue
      api = (name ~ /-group$/) ? "order-api-group" : (name ~ /-prev$/) ? "order-api-prev" : (name ~ /-each$/) ? "order-api-each" : (name ~ /-journal$/) ? "order-api-journal" : "order-api"
      vb=""; va=""
      for (k=1; k<=rounds; k++) {
        if (rps["baseline",c,k] > 0) vb = vb sprintf(" %.2f", rps[name,c,k]/rps["baseline",c,k])
        if (rps[api,c,k] > 0) va = va sprintf(" %.2f", rps[name,c,k]/rps[api,c,k])
      }
      mb = vb == "" ? "—" : sprintf("**%.2f×**", median(vb)); ma = va == "" ? "—" : sprintf("**%.2f×**", median(va))
      printf "| %s | %s | %s (%s) | %s (%s) |\n", name, c, mb, substr(vb,2), ma, substr(va,2)
    }
  }' "$results"

echo
echo "Server CPU per request, user / system µs (median over $ROUNDS rounds, then each round's):"
echo
echo "| path | connections | user µs | system µs | each round (user/system) |"
echo "|---|---:|---:|---:|---|"
awk -v paths="$PATHS" -v rounds="$ROUNDS" -v conns_list="$CONNS" '
  function median(list,   v, m, i, j, t) {
    m = split(list, v, " ")
    for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (v[j]+0 < v[i]+0) { t=v[i]; v[i]=v[j]; v[j]=t }
    return v[int((m+1)/2)]
  }
  { split($9,r,"="); split($10,cu,"="); split(cu[2],us,"/"); user[$1,$2]=user[$1,$2] " " us[1]; sys[$1,$2]=sys[$1,$2] " " us[2]; each[$1,$2]=each[$1,$2] " " cu[2] }
  END {
    nc = split(conns_list, conns, " "); n = split(paths, names, " ")
    for (i=1; i<=nc; i++) for (j=1; j<=n; j++) { name=names[j]; c=conns[i]
      if (user[name,c] == "") continue
      printf "| %s | %s | %s | %s | %s |\n", name, c, median(user[name,c]), median(sys[name,c]), substr(each[name,c],2) }
  }' "$results"
