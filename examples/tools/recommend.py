#!/usr/bin/env python3
"""Turns a root cause into a recommendation."""
from _common import args, reply

a = args()
cause = a.get("cause", "")
if "disk" in cause:
    rec = "expand the volume and rotate logs"
elif "memory" in cause:
    rec = "raise the memory limit and look for leaks"
elif "cpu" in cause:
    rec = "scale out by one instance"
elif "network" in cause:
    rec = "check the load balancer and upstream latency"
else:
    rec = "watch for another hour"
reply({"ci_id": a.get("ci_id"), "recommendation": rec})
