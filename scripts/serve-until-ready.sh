# Sourced by the start-up and memory benchmarks: `serve_until_ready
# DATA_DIR BINARY` starts `BINARY serve` on DATA_DIR on a free loopback
# port, stops it when the calling script exits, and returns once
# `/readyz` answers 200. Sets `port`, `pid` and `started` (the time the
# process was started, `date +%s.%N`). The caller exports the server's
# configuration (`PORTITOR_*`) first.
serve_until_ready() {
    local data_dir="$1" bin="$2"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    started=$(date +%s.%N)
    "$bin" serve --data-dir "$data_dir" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
    until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do
        kill -0 "$pid" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
        sleep 0.05
    done
}

# The server's resident memory in MB (VmRSS; VmHWM for its peak).
resident_mb() {
    awk -v field="${1:-VmRSS}:" '$1 == field {printf "%d", $2 / 1024}' "/proc/$pid/status"
}
