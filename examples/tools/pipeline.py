#!/usr/bin/env python3
"""The data-pipeline template: `collect` raw records, `process` them, `aggregate` a summary."""
import sys

from _common import args, fail, load, reply

step = sys.argv[1] if len(sys.argv) > 1 else ""
a = args()
if step == "collect":
    rows = [f for f in load("failures.json") if f["minutes_ago"] <= a.get("within_minutes", 60)]
    reply({"records": rows, "source": "failures.json"})
elif step == "process":
    out = []
    for r in a.get("records", []):
        out.append({"ci_id": r["ci_id"], "category": r["error"].split()[0].lower(), "recent": r["minutes_ago"] <= 15})
    reply({"records": out})
elif step == "aggregate":
    counts = {}
    for r in a.get("records", []):
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    reply({"total": len(a.get("records", [])), "by_category": dict(top), "top": top[0][0] if top else None})
else:
    fail(f"usage: pipeline.py collect|process|aggregate (got {step!r})", 2)
