#!/usr/bin/env bash
# How long the console takes to open a run of 10,000 steps and a run whose step
# returned 5 MB, in headless Chromium (docs/performance.md, "The console").
#   bash scripts/console-open-time.sh [FLOWC]   (default: target/release/flowc)
# Needs chromium, chromedriver, curl and python3.
set -euo pipefail
FLOWC=$(realpath "${1:-target/release/flowc}")
dir=$(mktemp -d)
server=; driver=; S=
# The browser's session is closed first (chromedriver's end would leave Chromium running).
trap '[ -n "$S" ] && curl -s -X DELETE "$S" > /dev/null; kill $server $driver 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
cat > big.flow <<'EOF'
flow one(i: int) -> int {
    i * 2
}

flow many(n: int = 10000) -> int {
    let xs = for i in range(n) {
        one(i: i)
    }
    len(xs)
}

tool blob(n: int) -> string = exec ["python3", "blob.py"]

flow large() -> int {
    let b = blob(n: 5000000)
    len(b)
}
EOF
echo 'import json, sys; print(json.dumps("x" * json.load(sys.stdin)["n"]))' > blob.py
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$FLOWC" serve --listen "127.0.0.1:$port" --store .flowc big.flow 2> serve.log &
server=$!
until grep -q '^console: ' serve.log; do sleep 0.1; done
token=$(sed -n 's/^console: .*token=//p' serve.log)
base="http://127.0.0.1:$port"
post() { curl -sf -H "Authorization: Bearer $token" -H 'content-type: application/json' -d "$2" "$base$1"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
many=$(post /api/v1/runs '{"flow":"many"}' | id_of)
large=$(post /api/v1/runs '{"flow":"large"}' | id_of)
for id in "$many" "$large"; do
  until curl -sf -H "Authorization: Bearer $token" "$base/api/v1/runs/$id" | grep -q '"live":false'; do sleep 0.2; done
done
wport=$((port + 1))
chromedriver --port=$wport > /dev/null 2>&1 &
driver=$!
W="http://127.0.0.1:$wport"
until curl -sf "$W/status" > /dev/null; do sleep 0.1; done
J='content-type: application/json'
session=$(curl -sf -X POST "$W/session" -H "$J" -d '{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"args":["--headless=new","--no-sandbox","--disable-gpu","--window-size=1400,1100"]}}}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')
S="$W/session/$session"
curl -sf -X POST "$S/url" -H "$J" -d "{\"url\":\"$base/?token=$token\"}" > /dev/null
for round in 1 2 3; do
  for id in "$many" "$large"; do
    # From the address to a page with its graph coloured and its timeline drawn.
    ms=$(curl -sf -X POST "$S/execute/async" -H "$J" -d "{\"script\":\"const done = arguments[0]; location.hash = '#/'; setTimeout(() => { const t0 = performance.now(); location.hash = '#/run/$id'; const look = () => (document.querySelector('#timeline .row') && document.querySelector('#graph g.node[data-state=ok]')) ? done(Math.round(performance.now() - t0)) : setTimeout(look, 10); look(); }, 300);\",\"args\":[]}" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
    echo "round $round: run $id ($( [ "$id" = "$many" ] && echo '10,000 steps' || echo 'a 5 MB result')) opened in $ms ms"
  done
done
