#!/usr/bin/env python3
"""Fails until it has been called `fail_times` times for the same `key` (state in a temp file)."""
import os
import tempfile

from _common import args, fail, reply

a = args()
path = os.path.join(tempfile.gettempdir(), f"flowc-example-flaky-{a.get('key', 'default')}")
n = int(open(path).read()) if os.path.exists(path) else 0
if n < a.get("fail_times", 2):
    with open(path, "w") as f:
        f.write(str(n + 1))
    fail(f"transient error (attempt {n + 1})")
os.remove(path)
reply({"ok": True, "attempts": n + 1})
