#!/usr/bin/env python3
"""Metric analysers: `cpu`, `memory`, `network` find anomalies (p99 above 0.8)."""
import sys

from _common import args, fail, load, reply

metric = sys.argv[1] if len(sys.argv) > 1 else ""
if metric not in ("cpu", "memory", "network", "disk"):
    fail(f"usage: metrics.py cpu|memory|network|disk (got {metric!r})", 2)
a = args()
data = load("metrics.json")
anomalies = []
for ci in a.get("ci_ids", []):
    m = data.get(ci, {}).get(metric)
    if m and m["p99"] > 0.8:
        anomalies.append({"ci_id": ci, "metric": metric, "score": m["p99"], "note": f"{metric} p99 {m['p99']:.2f} vs mean {m['mean']:.2f}"})
reply({"anomalies": anomalies})
