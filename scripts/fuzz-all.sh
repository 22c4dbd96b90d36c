#!/usr/bin/env bash
# Runs every fuzz target (or those named after SECONDS) for SECONDS each
# (FUZZING.md), one after another on one core, each from its corpus (seeded
# from fuzz/seeds/). Builds once, then runs the built fuzzers directly, so a
# source edited meanwhile does not rebuild between targets. Prints one line
# per target: runs, executions per second, and whether it crashed; the
# crashing inputs land in fuzz/artifacts/<target>/.
set -uo pipefail
seconds="${1:-240}"
shift || true
cd "$(dirname "$0")/../fuzz"
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/portitor/fuzz-target}"
# FUZZ_PREBUILT=1 runs what was built last, as it is.
[ -n "${FUZZ_PREBUILT:-}" ] || cargo +nightly fuzz build --target-dir "$target_dir" || exit 1
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
mkdir -p logs
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    [ -d "seeds/$target" ] && cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null
    "$bin_dir/$target" "corpus/$target" -artifact_prefix="artifacts/$target/" \
        -max_total_time="$seconds" -print_final_stats=1 >"logs/$target.log" 2>&1
    result=$?
    runs=$(grep -a 'stat::number_of_executed_units' "logs/$target.log" | awk '{print $2}')
    speed=$(grep -a 'stat::average_exec_per_sec' "logs/$target.log" | awk '{print $2}')
    if [ "$result" -eq 0 ]; then verdict="no crash"; else verdict="CRASHED (see fuzz/logs/$target.log)"; status=1; fi
    printf '%-20s %5ss  %12s runs  %8s exec/s  %s\n' "$target" "$seconds" "${runs:-?}" "${speed:-?}" "$verdict"
done
exit "$status"
