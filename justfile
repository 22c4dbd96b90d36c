# Every routine task. `./justw <recipe>` installs `just` first if needed.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Where tools the tests need are installed (outside the clone, reused across runs).
# Named outside `PORTITOR_*`, which is the server's configuration namespace.
tools := env_var_or_default("TEST_TOOLS_DIR", env_var("HOME") / ".cache/portitor-tools")

# The plugin toolchains of other languages, pinned: componentize-py (PyPI),
# ComponentizeJS, TypeScript, jco (types from the WIT) and rolldown (bundling)
# from npm, installed together under the tools directory. `portitor plugin
# new` pins the same versions in the projects it writes.
componentize_py := "0.25.1"
componentize_js_version := "0.23.0"
typescript_version := "5.9.3"
jco_version := "1.35.0"
rolldown_version := "1.3.4"
js_tools := tools / "npm/node_modules"

# List the recipes.
default:
    @just --list

# Install what building and testing need: the wasm target, the test peers.
setup: setup-build
    #!/usr/bin/env bash
    set -euo pipefail
    python3 -m pip install --quiet --disable-pip-version-check pyftpdlib 'moto[server]' asyncssh 'componentize-py=={{componentize_py}}'
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
    # Only what is missing: a machine whose Node.js came with its own npm
    # (NodeSource's) cannot take Debian's npm beside it.
    missing=""
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
    command -v nats-server >/dev/null 2>&1 || missing="$missing nats-server"
    command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
    if [ -n "$missing" ]; then
        echo "setup: installing Debian's$missing (chromium: the dashboard's browser tests; nats-server: the shared pointer queue's tests; npm: JavaScript plugins)"
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
    fi
    installed() { grep -qs "\"version\": \"$2\"" "{{tools}}/npm/node_modules/$1/package.json"; }
    if ! installed @bytecodealliance/componentize-js {{componentize_js_version}} || ! installed typescript {{typescript_version}} \
        || ! installed @bytecodealliance/jco {{jco_version}} || ! installed rolldown {{rolldown_version}}; then
        echo "setup: installing ComponentizeJS {{componentize_js_version}}, TypeScript {{typescript_version}}, jco {{jco_version}} and rolldown {{rolldown_version}} from npm (JavaScript and TypeScript plugins)"
        rm -rf "{{tools}}/npm"
        mkdir -p "{{tools}}/npm"
        npm install --silent --no-audit --no-fund --prefix "{{tools}}/npm" "@bytecodealliance/componentize-js@{{componentize_js_version}}" \
            "typescript@{{typescript_version}}" "@bytecodealliance/jco@{{jco_version}}" "rolldown@{{rolldown_version}}"
    fi
    if [ ! -x "{{tools}}/bin/garage" ]; then
        echo "setup: building Garage (an S3 server for the tests; about 10 minutes, once)"
        # Garage's own warnings are not ours to deny (CI sets RUSTFLAGS=-D warnings).
        RUSTFLAGS= cargo install garage --locked --root "{{tools}}"
    fi

# The Rust target plugins are built for.
setup-build:
    rustup target add wasm32-wasip2

# Build the runtime (and, through build.rs, every plugin).
build: setup-build
    cargo build -p portitor

# Run Portitor on the embedded default with the demo tenant and the example plugins.
run *ARGS: setup-build
    python3 -m pip install --quiet --disable-pip-version-check pyftpdlib || echo "run: no pyftpdlib; the demo runs without its FTP drop folder"
    cargo run -p portitor -- serve --demo {{ARGS}}

# The whole test suite: formatting, lints, unit, host and end-to-end tests.
test: setup lint
    GARAGE_BIN="{{tools}}/bin/garage" PLUGIN_JS_TOOLS="{{js_tools}}" cargo test --workspace --all-targets
    cargo test --workspace --doc
    cargo test --manifest-path plugins/Cargo.toml -p rules-validator

# Unit tests only (fast).
test-unit: setup-build
    cargo test --workspace --lib

# Host tests: real components in the engine against real peers.
test-host: setup
    cargo test -p portitor --test engine_sandbox --test engine_plugins --test store_conformance

# End-to-end tests: the real binary.
test-e2e: setup
    PLUGIN_JS_TOOLS="{{js_tools}}" cargo test -p portitor --test languages --test ingest --test cli --test webhooks --test pulls --test nodes --test pipeline --test pipeline_recovery --test lifecycle --test dashboard --test hostile_tenants --test outsiders --test replay

# Formatting and clippy, warnings as errors (the plugins too).
lint: setup-build
    cargo fmt --all -- --check
    cargo fmt --manifest-path plugins/Cargo.toml --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Where the fuzz targets are built (outside the clone, reused across runs).
fuzz_target_dir := env_var_or_default("FUZZ_TARGET_DIR", env_var("HOME") / ".cache/portitor/fuzz-target")

# Build every fuzz target (FUZZING.md): nightly, cargo-fuzz and the nightly wasm target are installed if missing.
fuzz-build:
    rustup toolchain install nightly --profile minimal
    rustup target add wasm32-wasip2 --toolchain nightly
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    cd fuzz && cargo +nightly fuzz build --target-dir "{{fuzz_target_dir}}"

# Fuzz one target for SECONDS (`cargo fuzz list` names them); crashes land in fuzz/artifacts/.
fuzz TARGET SECONDS="300": fuzz-build
    cd fuzz && cargo +nightly fuzz run --target-dir "{{fuzz_target_dir}}" {{TARGET}} -- -max_total_time={{SECONDS}}

# Fuzz every target for SECONDS each, one after another (FUZZING.md).
fuzz-all SECONDS="240": fuzz-build
    scripts/fuzz-all.sh {{SECONDS}}

# Criterion benchmarks of the engine (release build).
bench-engine: setup-build
    cargo bench -p portitor --bench engine

# Load benchmark of POST /{company}/order and webhooks against the baseline (release build; wrk).
bench-ingest: setup-build
    scripts/bench-ingest.sh

# Pull throughput, pipeline throughput and the projection rebuild (release build).
bench-pipeline: setup-build
    cargo run --release -p portitor --example pull_throughput
    cargo run --release -p portitor --example pipeline_throughput

# Every benchmark (BENCHMARKS.md).
bench: bench-engine bench-ingest bench-pipeline
