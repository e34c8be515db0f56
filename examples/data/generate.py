#!/usr/bin/env python3
"""Writes the example data (deterministic): a small CMDB, metrics and failures.

Run from anywhere: python3 examples/data/generate.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(7)

TYPES = ["web", "db", "cache", "queue", "batch", "lb"]
TEAMS = ["platform", "storage", "payments", "search", "ops"]

cis = []
for i in range(1, 301):
    ci_id = f"CI-{100 + i}"
    t = TYPES[i % len(TYPES)]
    cis.append({
        "ci_id": ci_id,
        "name": f"{t}-{i:03d}",
        "type": t,
        "owner": TEAMS[i % len(TEAMS)],
        # Dependencies point to earlier CIs, so the graph is acyclic.
        "depends_on": sorted({f"CI-{100 + rng.randint(1, i - 1)}" for _ in range(rng.randint(0, 3))}) if i > 1 else [],
    })
# CI-123 is the one the main example looks at.

metrics = {}
for c in cis:
    m = {}
    for metric in ["cpu", "memory", "network"]:
        base = rng.uniform(0.1, 0.6)
        spike = rng.random() < 0.35
        m[metric] = {"mean": round(base, 3), "p99": round(min(base + (rng.uniform(0.3, 0.5) if spike else rng.uniform(0.0, 0.1)), 0.999), 3)}
    if c["type"] == "db" and rng.random() < 0.5:
        m["disk"] = {"mean": 0.7, "p99": 0.97}
    metrics[c["ci_id"]] = m
metrics["CI-123"] = {
    "cpu": {"mean": 0.42, "p99": 0.95},
    "memory": {"mean": 0.55, "p99": 0.71},
    "network": {"mean": 0.2, "p99": 0.93},
}
# CI-131's disk is saturated: its cause goes to the storage team.
metrics["CI-131"] = {
    "cpu": {"mean": 0.5, "p99": 0.9},
    "memory": {"mean": 0.4, "p99": 0.5},
    "network": {"mean": 0.3, "p99": 0.4},
    "disk": {"mean": 0.8, "p99": 0.99},
}

failures = []
for c in cis:
    if rng.random() < 0.8:
        failures.append({
            "ci_id": c["ci_id"],
            "minutes_ago": rng.randint(1, 120),
            "error": rng.choice(["health check failed", "timeout", "OOM killed", "disk full", "connection refused"]),
        })

for name, value in [("cmdb.json", cis), ("metrics.json", metrics), ("failures.json", failures)]:
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")
print("wrote", len(cis), "CIs,", len(failures), "failures")
