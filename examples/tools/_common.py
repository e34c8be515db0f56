"""Shared helpers of the example tools: read the call's arguments, print one JSON value."""
import json
import os
import sys

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def args():
    text = sys.stdin.read()
    return json.loads(text) if text.strip() else {}


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def reply(value):
    json.dump(value, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)
