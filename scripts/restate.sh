#!/usr/bin/env bash
# The Restate server for `flowc worker` and `flowc run --engine restate:…` (docs/scale-out.md):
# installed once from npm into target/restate/, started on 127.0.0.1 only.
#
#   scripts/restate.sh install
#       installs the pinned server (npm package @restatedev/restate-server-linux-x64)
#       into target/restate/ unless it is there; prints the binary's path
#   scripts/restate.sh start DATA_DIR [INGRESS_PORT [ADMIN_PORT [FABRIC_PORT]]]
#       starts a server that keeps its data in DATA_DIR (ports 8080, 9070, 5122 by
#       default), waits until its ingress and admin API answer, prints its pid;
#       its log is DATA_DIR/server.log, its pid DATA_DIR/server.pid. A server
#       started again on the same DATA_DIR keeps its runs and deployments.
#   scripts/restate.sh stop DATA_DIR
#       stops the server of DATA_DIR (SIGTERM, then SIGKILL after 10 s)
#   scripts/restate.sh register ADMIN_URL WORKER_URL
#       registers the deployment at WORKER_URL (a worker, or the balancer in
#       front of several) with the server; again with `force` when it changed
#
# RESTATE_SERVER overrides the binary (an installed `restate-server`).
set -euo pipefail

VERSION=1.7.12
PACKAGE=@restatedev/restate-server-linux-x64
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="$ROOT/target/restate/$VERSION"
BIN="$PREFIX/node_modules/$PACKAGE/bin/restate-server"

die() {
    echo "restate.sh: $*" >&2
    exit 1
}

install() {
    if [[ -n "${RESTATE_SERVER:-}" ]]; then
        [[ -x "$RESTATE_SERVER" ]] || die "RESTATE_SERVER=$RESTATE_SERVER is not an executable"
        echo "$RESTATE_SERVER"
        return
    fi
    if [[ ! -x "$BIN" ]]; then
        [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] ||
            die "the server package is for Linux x86_64; this is $(uname -s)-$(uname -m): set RESTATE_SERVER to a restate-server binary"
        command -v npm >/dev/null || die "npm is needed to install the Restate server ($PACKAGE@$VERSION)"
        mkdir -p "$PREFIX"
        # The platform package alone: the wrapper package only adds an analytics dependency.
        if ! npm install --no-audit --no-fund --loglevel=error --prefix "$PREFIX" "$PACKAGE@$VERSION" >&2; then
            die "npm could not install $PACKAGE@$VERSION into $PREFIX"
        fi
        [[ -x "$BIN" ]] || die "npm installed $PACKAGE@$VERSION but $BIN is missing"
    fi
    echo "$BIN"
}

start() {
    local data="${1:?usage: restate.sh start DATA_DIR [INGRESS_PORT [ADMIN_PORT [FABRIC_PORT]]]}"
    local ingress="${2:-8080}" admin="${3:-9070}" fabric="${4:-5122}"
    local bin
    bin="$(install)"
    mkdir -p "$data"
    data="$(cd "$data" && pwd)"
    if [[ -f "$data/server.pid" ]] && kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
        die "a server of $data is running already (pid $(cat "$data/server.pid"))"
    fi
    cat >"$data/config.toml" <<TOML
cluster-name = "flowc"
disable-telemetry = true
default-num-partitions = 4
bind-address = "127.0.0.1:$fabric"
advertised-address = "http://127.0.0.1:$fabric/"
[ingress]
bind-address = "127.0.0.1:$ingress"
[admin]
bind-address = "127.0.0.1:$admin"
TOML
    # Its own process group, so that the caller's signals do not reach it.
    setsid "$bin" --config-file "$data/config.toml" --base-dir "$data/base" \
        --bind-ip 127.0.0.1 --listen-mode tcp --no-logo --log-disable-ansi-codes true \
        >>"$data/server.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$data/server.pid"
    for _ in $(seq 1 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -20 "$data/server.log" >&2
            die "the server exited while starting (log: $data/server.log)"
        fi
        if curl -sf "http://127.0.0.1:$admin/health" >/dev/null 2>&1 &&
            curl -sf "http://127.0.0.1:$ingress/restate/health" >/dev/null 2>&1; then
            echo "$pid"
            return
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    die "the server did not answer on 127.0.0.1:$ingress and :$admin within 30 s (log: $data/server.log)"
}

stop() {
    local data="${1:?usage: restate.sh stop DATA_DIR}"
    [[ -f "$data/server.pid" ]] || return 0
    local pid
    pid="$(cat "$data/server.pid")"
    if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$data/server.pid"
}

register() {
    local admin="${1:?usage: restate.sh register ADMIN_URL WORKER_URL}"
    local worker="${2:?usage: restate.sh register ADMIN_URL WORKER_URL}"
    curl -sfS -X POST "${admin%/}/deployments" -H 'content-type: application/json' \
        -d "{\"uri\": \"$worker\", \"force\": true}" >/dev/null ||
        die "the server at $admin could not register the deployment $worker"
}

cmd="${1:-}"
shift || true
case "$cmd" in
install) install ;;
start) start "$@" ;;
stop) stop "$@" ;;
register) register "$@" ;;
*) die "usage: restate.sh install | start DATA_DIR [INGRESS_PORT [ADMIN_PORT [FABRIC_PORT]]] | stop DATA_DIR | register ADMIN_URL WORKER_URL" ;;
esac
