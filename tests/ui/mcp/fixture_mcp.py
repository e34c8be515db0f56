#!/usr/bin/env python3
"""A minimal MCP server over stdio (standard library only) for the golden
tests of the MCP diagnostics: it answers `initialize` and `tools/list` with
fixed schemas shaped as the Python SDK writes them (`$ref`/`$defs`)."""
import json
import sys

ROW = {
    "type": "object",
    "properties": {"ci_id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["ci_id", "name"],
}
TOOLS = [
    {
        "name": "ci_detail_lookup",
        "inputSchema": {
            "type": "object",
            "properties": {"ci_id": {"type": "string"}, "depth": {"type": "integer"}},
            "required": ["ci_id"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"rows": {"type": "array", "items": {"$ref": "#/$defs/Row"}}},
            "required": ["rows"],
            "$defs": {"Row": ROW},
        },
    },
    {
        "name": "bulk_detail",
        "inputSchema": {
            "type": "object",
            "properties": {
                "rows": {"type": "array", "items": {"$ref": "#/$defs/Row"}},
                "mode": {"type": "string", "enum": ["fast", "full"]},
            },
            "required": ["rows", "mode"],
            "$defs": {"Row": ROW},
        },
    },
]

for line in sys.stdin:
    if not line.strip():
        continue
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method = msg.get("method")
    if method == "initialize":
        result = {
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fixture", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    else:
        out = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "no such method"}}
        print(json.dumps(out), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
