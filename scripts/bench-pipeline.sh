#!/usr/bin/env bash
# Orders/s through the whole default pipeline (runtime/examples/pipeline_throughput.rs:
# 2,000 orders from CLIENTS clients at once, 32 by default), ROUNDS rounds (3 by
# default). PREVIOUS_EXAMPLE: another build's pipeline_throughput binary (say,
# the previous commit's, built from its tree with this example copied in),
# measured alternately with this one, each pair within a minute; the script
# prints each round and the paired ratios' median.
# FRESH_FS=1 (root): every measurement on a freshly made ext4 without a journal
# (scripts/fresh-fs.sh); otherwise every measurement's store is kept in one
# directory until the run ends, so that none meets inodes another one freed
# (ext4 without a journal skips those for minutes: BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
CLIENTS="${CLIENTS:-32}"
cargo build --release -p portitor --example pipeline_throughput
current="${CARGO_TARGET_DIR:-target}/release/examples/pipeline_throughput"
work=$(mktemp -d)
trap '[ -z "${FRESH_FS:-}" ] || scripts/fresh-fs.sh unmount "$work/fresh"; rm -rf "$work"; echo "(the stores are deleted: on ext4 without a journal, measure again on this disk in 5 minutes)" >&2' EXIT

measure() { # binary -> orders/s
  local tmp="$work/kept"
  [ -z "${FRESH_FS:-}" ] || tmp="$(scripts/fresh-fs.sh mount "$work/fresh")"
  mkdir -p "$tmp"
  # PIPELINE_KEEP_DATA: the example leaves its store behind (deleted with $work).
  TMPDIR="$tmp" PIPELINE_ONLY=1 PIPELINE_KEEP_DATA=1 PIPELINE_CLIENTS="$CLIENTS" "$1" \
    | sed -n 's/.* \([0-9][0-9]*\) orders\/s end to end.*/\1/p'
  [ -z "${FRESH_FS:-}" ] || scripts/fresh-fs.sh unmount "$work/fresh"
}

ratios=""
for round in $(seq "$ROUNDS"); do
  now=$(measure "$current")
  if [ -n "${PREVIOUS_EXAMPLE:-}" ]; then
    before=$(measure "$PREVIOUS_EXAMPLE")
    ratio=$(awk -v a="$now" -v b="$before" 'BEGIN { printf "%.2f", a / b }')
    ratios="$ratios $ratio"
    echo "round $round: this build $now orders/s, previous $before orders/s, ratio $ratio"
  else
    echo "round $round: $now orders/s"
  fi
done
if [ -n "$ratios" ]; then
  echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { printf "median ratio: %.2f×\n", v[int((NR + 1) / 2)] }'
fi
