#!/usr/bin/env python3
"""A fake CMDB: `detail` (one CI), `failed` (CIs that failed recently), `deps` (dependencies)."""
import sys

from _common import args, fail, load, reply

cmd = sys.argv[1] if len(sys.argv) > 1 else ""
a = args()
cis = {c["ci_id"]: c for c in load("cmdb.json")}
if cmd == "detail":
    c = cis.get(a.get("ci_id"))
    if c is None:
        fail(f"no CI {a.get('ci_id')!r} in the CMDB")
    reply({"rows": [{k: c[k] for k in ("ci_id", "name", "type", "owner")}]})
elif cmd == "failed":
    within = a.get("within_minutes", 60)
    rows = [f for f in load("failures.json") if f["minutes_ago"] <= within]
    rows.sort(key=lambda f: f["ci_id"])
    reply({"rows": rows})
elif cmd == "deps":
    nodes = sorted(set(a.get("ci_ids", [])))
    edges = []
    for n in nodes:
        for d in cis.get(n, {}).get("depends_on", []):
            edges.append({"from": n, "to": d})
    reply({"edges": edges})
else:
    fail(f"usage: cmdb.py detail|failed|deps (got {cmd!r})", 2)
