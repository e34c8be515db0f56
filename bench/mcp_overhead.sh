#!/usr/bin/env bash
# What an MCP call costs: N calls in a row (default 1,000) of a tool that does
# no work, as an MCP tool of a stdio server started once for the run
# (bench/mcp/echo_mcp.py, the official Python SDK) and as an exec tool doing
# the same (`cat` echoes the arguments: a process per call); the time of a run
# with one call subtracted, so that start-up is left out. Also the SDK's own
# Python client making the same calls on the same server, for scale.
# Median of RUNS (default 3). Usage: bench/mcp_overhead.sh [FLOWC]
# (default target/release/flowc; the SDK from target/mcp-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
flowc=${1:-target/release/flowc}
n=${N:-1000}
runs=${RUNS:-3}
bash tests/mcp/install.sh
export PATH=$PWD/target/mcp-venv/bin:$PATH
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
export FLOWC_STORE=$store
"$flowc" check bench/mcp/bench.flow
t() { # seconds of one run of flow $1 with n=$2
    /usr/bin/time -f "%e" -o "$store/t" "$flowc" run bench/mcp/bench.flow --flow "$1" \
        --arg "n=$2" --no-store -q > /dev/null
    cat "$store/t"
}
mcp=() exec=() sdk=()
for ((i = 0; i < runs; i++)); do
    mcp+=("$(t mcp_calls 1) $(t mcp_calls $((n + 1)))")
    exec+=("$(t exec_calls 1) $(t exec_calls $((n + 1)))")
    sdk+=("$(python3 bench/mcp/sdk_client.py "$n" bench/mcp/echo_mcp.py)")
done
python3 - "$n" "$(printf '%s,' "${mcp[@]}")" "$(printf '%s,' "${exec[@]}")" "${sdk[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
def per_call(pairs):
    ms = [(float(b) - float(a)) * 1000 / n for a, b in (p.split() for p in pairs.split(",") if p)]
    return statistics.median(ms)
mcp, ex = per_call(sys.argv[2]), per_call(sys.argv[3])
sdk = statistics.median(float(x) * 1000 / n for x in sys.argv[4].split())
print(f"{n} calls in a row, median of {len(sys.argv[4].split())} runs, per call:")
print(f"  MCP tool, server started once: {mcp:.3f} ms")
print(f"  exec tool (cat), a process per call: {ex:.3f} ms")
print(f"  the Python SDK's client, same server: {sdk:.3f} ms")
print(f"  an MCP call minus the exec call: {mcp - ex:+.3f} ms")
PY
