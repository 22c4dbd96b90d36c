#!/usr/bin/env bash
# Builds the JavaScript and Python probe plugins (plugins/languages/) into
# DIR with the SDKs' builds, as tests/languages.rs does, for the engine
# benchmark's `languages` group: `scripts/build-language-probes.sh DIR` after
# `./justw setup`, then `LANGUAGE_PROBES=DIR cargo bench -p portitor --bench engine -- languages`.
set -euo pipefail
out="$(realpath "${1:?usage: build-language-probes.sh DIR}")"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${TEST_TOOLS_DIR:-$HOME/.cache/portitor-tools}"
mkdir -p "$out"
PLUGIN_JS_TOOLS="$tools/npm/node_modules" node "$root/guest-sdk/typescript/build.mjs" --kind push-source \
    --project "$root/plugins/languages/js-probe" --wit "$root/wit" --types "$out/js-probe-types" --out "$out/js-probe.wasm"
(cd "$out" && python3 "$root/guest-sdk/python/build.py" --kind push-source --project "$root/plugins/languages/python-probe" \
    --wit "$root/wit" --bindings "$out/python-probe-bindings" --out "$out/python-probe.wasm")
ls -l "$out"/*.wasm
