#!/usr/bin/env python3
"""Root-cause analysis: picks the worst anomaly; `disk` with another spike is a storage problem."""
from _common import args, load, reply

a = args()
anomalies = a.get("anomalies", [])
if not anomalies:
    reply({"cause": "no anomaly found", "confidence": 0.1})
else:
    worst = max(anomalies, key=lambda x: (x["score"], x["metric"]))
    metrics = {x["metric"] for x in anomalies}
    ci = worst.get("ci_id", "")
    disk = load("metrics.json").get(ci, {}).get("disk")
    if disk and disk["p99"] > 0.9:
        reply({"cause": f"disk saturation on {ci} drives {', '.join(sorted(metrics))} spikes", "confidence": 0.62})
    elif len(metrics) == 1:
        reply({"cause": f"{worst['metric']} exhaustion on {ci}", "confidence": 0.86})
    else:
        reply({"cause": f"load spike on {ci} ({', '.join(sorted(metrics))})", "confidence": 0.55})
