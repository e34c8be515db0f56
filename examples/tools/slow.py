#!/usr/bin/env python3
"""A tool that answers after `ms` milliseconds (for timeouts and races)."""
import time

from _common import args, reply

a = args()
time.sleep(a.get("ms", 0) / 1000)
reply({"source": a.get("source", "slow"), "ms": a.get("ms", 0)})
