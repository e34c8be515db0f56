#!/usr/bin/env python3
"""Post-processing of merged analyses: ranks anomalies and writes a short summary."""
from _common import args, reply

a = args()
anomalies = sorted(a.get("anomalies", []), key=lambda x: (-x["score"], x["metric"]))
summary = ", ".join(f"{x['metric']} {x['score']:.2f}" for x in anomalies) or "nothing unusual"
reply({"ranked": anomalies, "summary": summary, "worst": anomalies[0]["metric"] if anomalies else None})
