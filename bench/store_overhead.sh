#!/usr/bin/env bash
# What the store costs a run: the bench kit's `overhead` workload (100,000
# steps of zero latency) with the store against `--no-store`, alternating,
# median of RUNS (default 3). Usage: bench/store_overhead.sh [FLOW]
# (default: generates /tmp/flowc-bench/overhead.flow with ../shared/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
flow=${1:-/tmp/flowc-bench/overhead.flow}
if [ ! -f "$flow" ]; then
    mkdir -p "$(dirname "$flow")"
    python3 ../shared/bench/gen_dag.py --nodes 100000 --avg-deps 2 --latency fixed:0 \
        --max-concurrent 64 --seed 1 --out "${flow%.flow}.json" --flow "$flow" > /dev/null
fi
cargo build --release --quiet
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
with=()
without=()
for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e" -o /tmp/flowc-store-bench.time \
        target/release/flowc run "$flow" --no-store -q > /dev/null
    without+=("$(cat /tmp/flowc-store-bench.time)")
    /usr/bin/time -f "%e" -o /tmp/flowc-store-bench.time \
        target/release/flowc run "$flow" --store "$store" -q > /dev/null
    with+=("$(cat /tmp/flowc-store-bench.time)")
done
python3 - "${without[*]}" "${with[*]}" "$(du -k "$store/flowc.db" | cut -f1)" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"--no-store: median {ma:.2f} s  {a}")
print(f"store:      median {mb:.2f} s  {b}   (store file {int(sys.argv[3]) / 1024:.1f} MB after {len(b)} runs)")
print(f"ratio {mb / ma:.2f} (goal <= 1.30)")
PY
