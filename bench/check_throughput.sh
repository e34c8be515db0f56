#!/usr/bin/env bash
# Measures `flowc check` throughput on a generated program that mixes every
# construct. Usage: bench/check_throughput.sh [LINES] (default 100000).
# Environment: RUNS (default 5; the median is reported), OUT (the generated file).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-100000}
runs=${RUNS:-5}
out=${OUT:-/tmp/flowc-check-bench-$lines.flow}

cargo build --release --quiet
python3 bench/gen_program.py --lines "$lines" --seed 1 > "$out"
if ! target/release/flowc check "$out" 2> /tmp/flowc-check-bench.err; then
    echo "the generated program does not check clean:" >&2
    head -n 30 /tmp/flowc-check-bench.err >&2
    exit 1
fi
bytes=$(wc -c < "$out")
nlines=$(wc -l < "$out")
times=()
rss=()
for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %M" -o /tmp/flowc-check-bench.time target/release/flowc check "$out" 2> /dev/null
    read -r t m < /tmp/flowc-check-bench.time
    times+=("$t")
    rss+=("$m")
done
python3 - "$bytes" "$nlines" "${times[*]}" "${rss[*]}" <<'PY'
import statistics, sys
b, n = int(sys.argv[1]), int(sys.argv[2])
ts = [float(x) for x in sys.argv[3].split()]
ms = [int(x) for x in sys.argv[4].split()]
t = statistics.median(ts)
print(f"file: {b / 1e6:.2f} MB, {n} lines")
print(f"flowc check: median {t:.3f} s of {len(ts)} runs (min {min(ts):.3f}, max {max(ts):.3f})")
print(f"throughput: {b / 1e6 / t:.1f} MB/s, {n / t:,.0f} lines/s")
print(f"peak RSS: {max(ms) / 1024:.0f} MB")
PY
