#!/usr/bin/env python3
"""Opens a ticket (the effect). The ticket id is derived from the request, so runs repeat."""
import hashlib

from _common import args, reply

a = args()
digest = hashlib.sha256(f"{a.get('ci_id')}|{a.get('reason')}".encode()).hexdigest()[:6].upper()
reply({"ticket": f"TICKET-{digest}"})
