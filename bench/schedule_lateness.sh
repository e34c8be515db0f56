#!/usr/bin/env bash
# How late `flowc serve` fires a schedule: a schedule of every second
# ("* * * * * *", a flow of one built-in step) served for SECS seconds
# (default 30); from the store, per slot, the claim's lateness (`at_ms -
# slot_ms` of `schedule_slots`) and the run's start (`runs.started_ms -
# slot_ms`), and how many slots of the period were fired, skipped or missed.
# Usage: bench/schedule_lateness.sh [SECS]   (debug build: target/debug/flowc)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
cargo build --quiet
dir=$(mktemp -d)
cat > "$dir/tick.flow" <<'FLOW'
tool echo(n: int) -> json = builtin "echo"

flow tick() -> json {
    echo(n: 1)
}

schedule "* * * * * *" tick()
FLOW
target/debug/flowc serve --listen 127.0.0.1:0 --store "$dir/.flowc" "$dir/tick.flow" \
    > "$dir/out" 2> "$dir/err" &
server=$!
trap 'kill "$server" 2> /dev/null || true; rm -rf "$dir"' EXIT
sleep "$secs"
kill "$server"
wait "$server" 2> /dev/null || true
python3 - "$dir/.flowc/flowc.db" <<'PY'
import sqlite3, statistics, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("""SELECT s.slot_ms, s.outcome, s.at_ms - s.slot_ms, r.started_ms - s.slot_ms
                    FROM schedule_slots s LEFT JOIN runs r ON r.id = s.run_id
                    ORDER BY s.slot_ms""").fetchall()
slots = [r[0] for r in rows]
span = (slots[-1] - slots[0]) // 1000 + 1
claim = sorted(r[2] for r in rows)
start = sorted(r[3] for r in rows if r[3] is not None)
def q(xs, p):
    return xs[min(len(xs) - 1, int(p * len(xs)))]
print(f"slots in {span} s: {len(rows)} claimed ({sum(r[1] == 'started' for r in rows)} started, "
      f"{sum(r[1] == 'skipped' for r in rows)} skipped), {span - len(rows)} missed")
print(f"claim after the slot, ms: median {statistics.median(claim):.0f}, p95 {q(claim, .95)}, max {claim[-1]}")
print(f"run started after the slot, ms: median {statistics.median(start):.0f}, p95 {q(start, .95)}, max {start[-1]}")
PY
