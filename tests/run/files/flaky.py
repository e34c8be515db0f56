# Fails twice, then succeeds: counts its runs in `count` beside it.
import json, os, sys

p = os.path.join(os.path.dirname(__file__), "count")
n = int(open(p).read()) if os.path.exists(p) else 0
open(p, "w").write(str(n + 1))
if n < 2:
    sys.stderr.write("transient failure %d\n" % n)
    sys.exit(3)
print(json.dumps({"ok": True, "tries": n + 1}))
