#!/usr/bin/env bash
# Runs on Restate against runs here (docs/scale-out.md), release build, median of RUNS
# (default 3), on 127.0.0.1 only:
#  - per-step overhead: the bench kit's `latency` workload (2,000 steps) and a
#    1,000-step `overhead` workload (zero latency), `flowc run --no-store`
#    against `flowc run --engine restate:URL` with one worker;
#  - throughput of independent runs: JOBS (default 40) runs of a flow of ten
#    50 ms steps (two at a time) submitted at once, with one worker, then two
#    workers behind HAProxy.
# Usage: bench/restate.sh   (needs npm for the server, haproxy for two workers)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
jobs=${JOBS:-40}
W=$(mktemp -d /tmp/flowc-restate-bench.XXXX)
cargo build --release --quiet
F=$PWD/target/release/flowc
B=../shared/bench
python3 $B/gen_dag.py --nodes 2000 --avg-deps 2 --latency lognormal:20:1.0 --max-concurrent 16 \
    --seed 1 --out "$W/latency.json" --flow "$W/latency.flow" > /dev/null
python3 $B/gen_dag.py --nodes 1000 --avg-deps 2 --latency fixed:0 --max-concurrent 64 \
    --seed 1 --out "$W/overhead1k.json" --flow "$W/overhead1k.flow" > /dev/null
cat > "$W/ten.flow" <<'FLOW'
tool sleep(ms: int) -> { ms: int } = builtin "sleep"

flow main() -> int {
    let out = for i in range(0, 10) with { max_concurrent: 2 } { sleep(ms: 50).ms }
    len(out)
}
FLOW
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ING=$(port); ADM=$(port); FAB=$(port); P1=$(port); P2=$(port); LB=$(port)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    scripts/restate.sh stop "$W/server" || true
    rm -rf "$W"
}
trap cleanup EXIT
scripts/restate.sh start "$W/server" "$ING" "$ADM" "$FAB" > /dev/null
(cd "$W" && exec "$F" worker --listen "127.0.0.1:$P1" . 2> "$W/w1.log") & pids+=($!)
(cd "$W" && exec "$F" worker --listen "127.0.0.1:$P2" . 2> "$W/w2.log") & pids+=($!)
sleep 1
scripts/restate.sh register "http://127.0.0.1:$ADM" "http://127.0.0.1:$P1"
E="restate:http://127.0.0.1:$ING"

secs() { /usr/bin/time -f "%e" -o "$W/t" "$@" > /dev/null; cat "$W/t"; }
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

for flow in latency overhead1k; do
    here=(); there=()
    for ((i = 0; i < runs; i++)); do
        here+=("$(cd "$W" && secs "$F" run -q --no-store "$flow.flow")")
        there+=("$(cd "$W" && secs "$F" run -q --engine "$E" "$flow.flow")")
    done
    steps=$(grep -c '= sleep(' "$W/$flow.flow")
    h=$(median "${here[@]}"); t=$(median "${there[@]}")
    python3 -c "import sys; h,t,n=float(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(f'$flow: {n} steps; here {h:.2f} s, on Restate {t:.2f} s; +{(t-h)/n*1e3:.2f} ms a step  (here {sys.argv[4]}; Restate {sys.argv[5]})')" \
        "$h" "$t" "$steps" "${here[*]}" "${there[*]}"
done

throughput() {
    local label=$1 t0 t1 runs=()
    t0=$(date +%s.%N)
    for ((j = 0; j < jobs; j++)); do
        (cd "$W" && "$F" run -q --engine "$E" ten.flow > /dev/null) &
        runs+=($!)
    done
    for p in "${runs[@]}"; do wait "$p" || echo "a run failed" >&2; done
    t1=$(date +%s.%N)
    python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); print(f'$label: $jobs runs of 10 steps in {d:.2f} s: {$jobs/d:.2f} runs/s')" "$t0" "$t1"
}
throughput "one worker"
cat > "$W/haproxy.cfg" <<CFG
global
    maxconn 2000
defaults
    mode http
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    option redispatch
    retries 3
frontend workers
    bind 127.0.0.1:$LB proto h2
    default_backend workers
backend workers
    balance roundrobin
    server w1 127.0.0.1:$P1 proto h2 check inter 200ms
    server w2 127.0.0.1:$P2 proto h2 check inter 200ms
CFG
PATH="$PATH:/usr/sbin" haproxy -db -f "$W/haproxy.cfg" 2> "$W/haproxy.log" & pids+=($!)
sleep 0.5
scripts/restate.sh register "http://127.0.0.1:$ADM" "http://127.0.0.1:$LB"
throughput "two workers"
echo "steps per worker: $(grep -c 'step ' "$W/w1.log") and $(grep -c 'step ' "$W/w2.log")"
