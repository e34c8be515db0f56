#!/usr/bin/env python3
"""The example tools as an MCP server (the official Python SDK, PyPI `mcp`):
`ci_detail_lookup` (one CI of the fake CMDB), `metric_analysis` (anomalies of
one metric, p99 above 0.8) and `root_cause` (the worst anomaly's cause), the
same answers as `../tools/cmdb.py`, `../tools/metrics.py` and `../tools/rca.py`.

    python3 ops_mcp.py            # stdio, as `mcp server ops = stdio [...]` starts it
    python3 ops_mcp.py --http 9000   # streamable HTTP on 127.0.0.1:9000/mcp

`OPS_MCP_CRASH_ON=CI-ID`: the process exits when asked about that CI (the
tests' crash and restart). `OPS_MCP_LOG=FILE`: each call's tool and CI
appended to FILE (the tests count the calls).
"""
import json
import os
import sys
from typing import Literal

from typing_extensions import NotRequired, TypedDict

from mcp.server.mcpserver import MCPServer

DATA = os.environ.get("OPS_MCP_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


class CiRow(TypedDict):
    ci_id: str
    name: str
    type: str
    owner: str


class Detail(TypedDict):
    rows: list[CiRow]


class Anomaly(TypedDict):
    ci_id: str
    metric: str
    score: float
    note: str


class Analysis(TypedDict):
    anomalies: list[Anomaly]


class Cause(TypedDict):
    cause: str
    confidence: float


class AnomalyIn(TypedDict):
    metric: str
    score: float
    ci_id: NotRequired[str]
    note: NotRequired[str]


server = MCPServer("ops")


def crash_on(ci_id, tool="ci_detail_lookup"):
    log = os.environ.get("OPS_MCP_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{tool} {ci_id}\n")
    if os.environ.get("OPS_MCP_CRASH_ON") == ci_id:
        os._exit(7)


@server.tool()
def ci_detail_lookup(ci_id: str) -> Detail:
    """One configuration item of the CMDB."""
    crash_on(ci_id)
    cis = {c["ci_id"]: c for c in load("cmdb.json")}
    c = cis.get(ci_id)
    if c is None:
        raise ValueError(f"no CI {ci_id!r} in the CMDB")
    return {"rows": [{k: c[k] for k in ("ci_id", "name", "type", "owner")}]}


@server.tool()
def metric_analysis(ci_ids: list[str], metric: Literal["cpu", "memory", "network", "disk"]) -> Analysis:
    """Anomalies of one metric (p99 above 0.8) of the given CIs."""
    for ci in ci_ids:
        crash_on(ci, "metric_analysis")
    data = load("metrics.json")
    anomalies = []
    for ci in ci_ids:
        m = data.get(ci, {}).get(metric)
        if m and m["p99"] > 0.8:
            anomalies.append({"ci_id": ci, "metric": metric, "score": m["p99"],
                              "note": f"{metric} p99 {m['p99']:.2f} vs mean {m['mean']:.2f}"})
    return {"anomalies": anomalies}


@server.tool()
def root_cause(anomalies: list[AnomalyIn]) -> Cause:
    """The likely root cause of a set of anomalies."""
    if not anomalies:
        return {"cause": "no anomaly found", "confidence": 0.1}
    worst = max(anomalies, key=lambda x: (x["score"], x["metric"]))
    metrics = {x["metric"] for x in anomalies}
    ci = worst.get("ci_id", "")
    disk = load("metrics.json").get(ci, {}).get("disk")
    if disk and disk["p99"] > 0.9:
        return {"cause": f"disk saturation on {ci} drives {', '.join(sorted(metrics))} spikes", "confidence": 0.62}
    if len(metrics) == 1:
        return {"cause": f"{worst['metric']} exhaustion on {ci}", "confidence": 0.86}
    return {"cause": f"load spike on {ci} ({', '.join(sorted(metrics))})", "confidence": 0.55}


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
