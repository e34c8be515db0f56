#!/usr/bin/env bash
# What the store costs a run: the bench kit's `overhead` workload (100,000
# steps of zero latency) with the store against `--no-store`, alternating,
# median of RUNS (default 3). Usage: bench/store_overhead.sh [FLOW]
# (default: generates /tmp/flowc-bench/overhead.flow with ../shared/bench).
# FLOWC=BIN measures that binary instead of a fresh release build; with
# BEFORE=BIN too, a stored run of BIN alternates with the others (a change
# measured against the build before it, in one sitting).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
flow=${1:-/tmp/flowc-bench/overhead.flow}
if [ ! -f "$flow" ]; then
    mkdir -p "$(dirname "$flow")"
    python3 ../shared/bench/gen_dag.py --nodes 100000 --avg-deps 2 --latency fixed:0 \
        --max-concurrent 64 --seed 1 --out "${flow%.flow}.json" --flow "$flow" > /dev/null
fi
if [ -z "${FLOWC:-}" ]; then
    cargo build --release --quiet
fi
bin=${FLOWC:-target/release/flowc}
before=${BEFORE:-}
store=$(mktemp -d)
old=$(mktemp -d)
trap 'rm -rf "$store" "$old"' EXIT
with=()
without=()
earlier=()
for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e" -o /tmp/flowc-store-bench.time \
        "$bin" run "$flow" --no-store -q > /dev/null
    without+=("$(cat /tmp/flowc-store-bench.time)")
    /usr/bin/time -f "%e" -o /tmp/flowc-store-bench.time \
        "$bin" run "$flow" --store "$store" -q > /dev/null
    with+=("$(cat /tmp/flowc-store-bench.time)")
    if [ -n "$before" ]; then
        /usr/bin/time -f "%e" -o /tmp/flowc-store-bench.time \
            "$before" run "$flow" --store "$old" -q > /dev/null
        earlier+=("$(cat /tmp/flowc-store-bench.time)")
    fi
done
# The store's files (the database and its write-ahead log), in KB.
size() { du -kc "$1"/flowc.db* 2>/dev/null | tail -1 | cut -f1; }
python3 - "${without[*]}" "${with[*]}" "$(size "$store")" "${earlier[*]:-}" "$(size "$old")" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"--no-store: median {ma:.2f} s  {a}")
print(f"store:      median {mb:.2f} s  {b}   (store files {int(sys.argv[3]) / 1024:.1f} MB after {len(b)} runs)")
print(f"ratio {mb / ma:.2f} (goal <= 1.30)")
if sys.argv[4].strip():
    c = [float(x) for x in sys.argv[4].split()]
    mc = statistics.median(c)
    print(f"BEFORE, store: median {mc:.2f} s  {c}   (store files {int(sys.argv[5] or 0) / 1024:.1f} MB after {len(c)} runs)")
    print(f"ratio {mc / ma:.2f}; store after / before {mb / mc:.2f}")
PY
