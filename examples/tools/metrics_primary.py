#!/usr/bin/env python3
"""The primary metrics service, which is down: every call fails as a 503 would."""
from _common import args, fail

args()
fail("metrics service unavailable (HTTP 503 from metrics.internal:8443)")
