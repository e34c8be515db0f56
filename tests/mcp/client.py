#!/usr/bin/env python3
"""The official Python SDK's MCP client driving `flowc mcp` over stdio, for
tests/mcp.rs: `client.py FLOWC STORE PATHS_JSON list` prints the tools as
JSON; `client.py FLOWC STORE PATHS_JSON call NAME ARGS_JSON` prints
`{"structured": …, "is_error": …, "text": …}`; `… cancel NAME ARGS_JSON
SECONDS` calls and cancels the call after SECONDS, then prints `{}`.
With FLOWC `http://…/mcp` and STORE a bearer token, it speaks streamable HTTP
to a `flowc mcp --listen` already started (PATHS_JSON unused)."""
import contextlib
import asyncio
import json
import sys

import anyio

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main():
    flowc, store, paths, cmd = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    if flowc.startswith("http"):
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {store}"}, timeout=60)
        transport = streamable_http_client(flowc, http_client=http)
    else:
        params = StdioServerParameters(command=flowc, args=["mcp", "--store", store] + paths)
        transport = stdio_client(params)
    async with transport as streams:
        r, w = streams[0], streams[1]
        async with ClientSession(r, w) as s:
            await s.initialize()
            if cmd == "cancel":
                with anyio.move_on_after(float(sys.argv[7])):
                    await s.call_tool(sys.argv[5], json.loads(sys.argv[6]))
                # Time for the cancellation to reach the server and its run.
                await anyio.sleep(2)
                out = {}
            elif cmd == "list":
                tools = await s.list_tools()
                out = [
                    {"name": t.name, "description": t.description, "input": t.input_schema, "output": t.output_schema}
                    for t in tools.tools
                ]
            else:
                res = await s.call_tool(sys.argv[5], json.loads(sys.argv[6]))
                out = {
                    "structured": res.structured_content,
                    "is_error": bool(res.is_error),
                    "text": "".join(getattr(c, "text", "") for c in res.content),
                }
            print(json.dumps(out))


asyncio.run(main())
