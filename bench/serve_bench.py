#!/usr/bin/env python3
"""The service's figures (docs/performance.md, "The service").

1. `latency`: the benchmark kit's `latency` workload (2,000 steps, bound
   9.617 s) started through the API, timed from the `POST` to the end of its
   event stream, against the bound; `flowc run` of the same for comparison.
2. A burst: N small runs (default 200) started at once through the API,
   timed from the first `POST` to the last run's end, against N `flowc run`
   processes started at once on a store of their own: the rate ratio (the
   median of `--runs` bursts, each side measured in turn). The
   POSTs come from one `curl --parallel` (a client in C) when curl is
   installed, else from N Python threads (`--client python`); what the client
   itself takes (N `GET /api/v1/flows` at once) is printed first.
3. The server's resident memory (VmRSS) after start, and after the burst.

Usage (from the repository's root; the kit in ../shared/bench or $B):

    bench/serve_bench.py [--flowc PATH] [--runs 3] [--burst 200] [--client curl|python]

PATH defaults to $CARGO_TARGET_DIR/release/flowc (or target/release/flowc).
Standard library only (and curl, when installed). Prints one line per measure and a summary.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-operator-token-0123456789abcdef"

SMALL = """tool sleep(ms: int) -> { ms: int } = builtin "sleep"

/// Two short steps, one after the other.
flow small() -> int {
    let a = sleep(ms: 1)
    let b = sleep(ms: 1) after a
    a.ms + b.ms
}
"""


def request(base, method, path, body=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start_server(flowc, work, files):
    with open(os.path.join(work, "tokens"), "w") as f:
        f.write(f"operator {TOKEN} bench\n")
    p = subprocess.Popen(
        [flowc, "serve", "--listen", "127.0.0.1:0", "--store", "serve-store",
         "--tokens", "tokens", *files],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "http://" in line:
            url = line[line.index("http://"):].split()[0]
            base = url[: -len("/api/v1")] if url.endswith("/api/v1") else url
            # Keep reading its stderr so that it never blocks on a full pipe.
            concurrent.futures.ThreadPoolExecutor(1).submit(lambda: [*p.stderr])
            return p, base
    sys.exit("flowc serve did not start")


def latency(flowc, base, work, runs, bound):
    api, cli = [], []
    for _ in range(runs):
        t0 = time.monotonic()
        _, body = request(base, "POST", "/api/v1/runs",
                          {"file": "latency.flow", "flow": "main"})
        rid = json.loads(body)["id"]
        _, events = request(base, "GET", f"/api/v1/runs/{rid}/events")
        wall = time.monotonic() - t0
        assert b"event: run_finished" in events, events[-500:]
        # The store has the run's end just after the stream says it.
        while True:
            _, run = request(base, "GET", f"/api/v1/runs/{rid}")
            run = json.loads(run)
            if run["status"] != "running":
                break
            time.sleep(0.01)
        assert run["status"] == "ok", run["status"]
        api.append((wall, run["duration_ms"] / 1000))
        t0 = time.monotonic()
        subprocess.run([flowc, "run", "-q", "--store", "cli-store", "latency.flow"],
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        cli.append(time.monotonic() - t0)
    wall = statistics.median(a for a, _ in api)
    inside = statistics.median(b for _, b in api)
    print(f"latency through the API: POST to the stream's end {wall:.3f} s "
          f"({wall / bound:.3f} x the bound {bound} s), the run itself {inside:.3f} s "
          f"({inside / bound:.3f} x); runs {[round(a, 3) for a, _ in api]}")
    print(f"latency by `flowc run` (process wall time): {statistics.median(cli):.3f} s "
          f"({statistics.median(cli) / bound:.3f} x); runs {[round(c, 3) for c in cli]}")
    return wall / bound


def post_runs_python(base, n):
    """n `POST /api/v1/runs` from n Python threads at once: the run ids."""
    def start(_):
        _, body = request(base, "POST", "/api/v1/runs", {"file": "small.flow", "flow": "small"})
        return json.loads(body)["id"]

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return set(pool.map(start, range(n)))


def post_runs_curl(base, work, n):
    """n `POST /api/v1/runs` at once from one `curl --parallel` (a client in C,
    n connections at once): the run ids."""
    one = ('url = "%s/api/v1/runs"\nrequest = "POST"\n'
           'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n'
           'data = "{\\"file\\":\\"small.flow\\",\\"flow\\":\\"small\\"}"\n') % (base, TOKEN)
    cfg = os.path.join(work, "burst.curl")
    with open(cfg, "w") as f:
        f.write("\nnext\n".join([one] * n))
    out = subprocess.run(["curl", "-sS", "--parallel", "--parallel-immediate",
                          "--parallel-max", str(n), "-K", cfg],
                         check=True, capture_output=True, text=True).stdout
    return set(re.findall(r'"id"\s*:\s*"([^"]+)"', out))


def burst(flowc, base, work, n, client):
    t0 = time.monotonic()
    if client == "curl":
        ids = post_runs_curl(base, work, n)
    else:
        ids = post_runs_python(base, n)
    posted = time.monotonic() - t0
    assert len(ids) == n, f"{len(ids)} runs started of {n}"
    while True:
        _, body = request(base, "GET", "/api/v1/runs?flow=small&limit=10000")
        rows = [r for r in json.loads(body)["runs"] if r["id"] in ids]
        if sum(r["status"] not in ("running",) for r in rows) == n:
            break
        time.sleep(0.01)
    api = time.monotonic() - t0
    bad = [r["status"] for r in rows if r["status"] != "ok"]
    assert not bad, bad
    t0 = time.monotonic()
    procs = [subprocess.Popen([flowc, "run", "-q", "--store", "cli-store", "small.flow"],
                              cwd=work, stdout=subprocess.DEVNULL)
             for _ in range(n)]
    codes = [p.wait() for p in procs]
    cli = time.monotonic() - t0
    assert all(c == 0 for c in codes), codes
    print(f"{n} small runs at once through the API ({client} client): {api:.2f} s "
          f"({n / api:.1f} runs/s; the {n} POSTs answered in {posted:.2f} s)")
    print(f"{n} `flowc run` processes at once: {cli:.2f} s ({n / cli:.1f} runs/s)")
    print(f"rate ratio API / processes: {cli / api:.2f}")
    return cli / api


def client_floor(base, work, n, client):
    """What the client itself takes: n `GET /api/v1/flows` at once."""
    t0 = time.monotonic()
    if client == "curl":
        cfg = os.path.join(work, "floor.curl")
        one = 'url = "%s/api/v1/flows"\nheader = "Authorization: Bearer %s"\noutput = "/dev/null"\n' % (base, TOKEN)
        with open(cfg, "w") as f:
            f.write("\nnext\n".join([one] * n))
        subprocess.run(["curl", "-sS", "--parallel", "--parallel-immediate",
                        "--parallel-max", str(n), "-K", cfg], check=True, capture_output=True)
    else:
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda _: request(base, "GET", "/api/v1/flows"), range(n)))
    took = time.monotonic() - t0
    print(f"the {client} client's floor: {n} GET /api/v1/flows at once in {took:.3f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap.add_argument("--flowc", default=os.path.join(target, "release", "flowc"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--client", choices=["curl", "python"],
                    default="curl" if shutil.which("curl") else "python",
                    help="who sends the burst's POSTs (default: curl --parallel when installed)")
    ap.add_argument("--kit", default=os.environ.get("B", "../shared/bench"))
    a = ap.parse_args()
    flowc = os.path.abspath(a.flowc)
    work = tempfile.mkdtemp(prefix="flowc-serve-bench-")
    subprocess.run([sys.executable, os.path.join(a.kit, "gen_dag.py"), "--nodes", "2000",
                    "--avg-deps", "2", "--latency", "lognormal:20:1.0", "--max-concurrent",
                    "16", "--seed", "1", "--out", os.path.join(work, "latency.json"),
                    "--flow", os.path.join(work, "latency.flow")],
                   check=True, stdout=subprocess.DEVNULL)
    bound = json.loads(subprocess.run(
        [sys.executable, os.path.join(a.kit, "bound.py"), "--json",
         os.path.join(work, "latency.json")],
        check=True, capture_output=True, text=True).stdout)["lower_bound_s"]
    with open(os.path.join(work, "small.flow"), "w") as f:
        f.write(SMALL)
    print(f"flowc {flowc}; {os.cpu_count()} cores; load average {os.getloadavg()}")
    p, base = start_server(flowc, work, ["latency.flow", "small.flow"])
    try:
        time.sleep(1)
        idle = rss_kb(p.pid) / 1024
        print(f"idle RSS after start: {idle:.1f} MB")
        ratio = latency(flowc, base, work, a.runs, bound)
        client_floor(base, work, a.burst, a.client)
        rates = [burst(flowc, base, work, a.burst, a.client) for _ in range(a.runs)]
        rate = statistics.median(rates)
        print(f"rate ratios {[round(r, 2) for r in rates]}: median {rate:.2f}")
        print(f"RSS after: {rss_kb(p.pid) / 1024:.1f} MB (peak {rss_kb(p.pid, 'VmHWM') / 1024:.1f} MB)")
    finally:
        p.terminate()
        p.wait()
    print(f"load average at the end {os.getloadavg()}")
    print(f"summary: latency {ratio:.3f} x bound (goal <= 1.02); burst rate ratio {rate:.2f} "
          f"(goal >= 5); idle RSS {idle:.1f} MB (goal <= 50)")
    print(f"(work folder {work})")


if __name__ == "__main__":
    main()
