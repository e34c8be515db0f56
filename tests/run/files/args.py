# Echoes the arguments it reads on stdin, and whether it runs in the folder
# of the flow (where `files/args.py` is).
import json, os, sys

args = json.load(sys.stdin)
print(json.dumps({"got": args, "in_flow_folder": os.path.exists("files/args.py")}))
