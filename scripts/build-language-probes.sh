#!/usr/bin/env bash
# Builds the JavaScript and Python probe plugins (plugins/languages/) into
# DIR, as tests/languages.rs does, for the engine benchmark's `languages`
# group: `scripts/build-language-probes.sh DIR` after `./justw setup`, then
# `LANGUAGE_PROBES=DIR cargo bench -p portitor --bench engine -- languages`.
set -euo pipefail
out="$(realpath "${1:?usage: build-language-probes.sh DIR}")"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${TEST_TOOLS_DIR:-$HOME/.cache/portitor-tools}"
mkdir -p "$out"
node "$root/plugins/languages/build-js.mjs" "$tools/npm/node_modules/@bytecodealliance/componentize-js" \
    "$root/wit" push-source "$root/plugins/languages/js-probe/plugin.js" "$out/js-probe.wasm"
(cd "$out" && componentize-py --wit-path "$root/wit" --world push-source componentize app \
    --python-path "$root/plugins/languages/python-probe" --output "$out/python-probe.wasm")
ls -l "$out"/*.wasm
