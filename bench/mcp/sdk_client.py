"""The floor of bench/mcp_overhead.sh: the Python SDK's own client calling
`echo` N times in a row on one started server (`echo_mcp.py`); prints the
seconds the N calls took, the start and handshake left out."""
import asyncio
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(n):
    params = StdioServerParameters(command=sys.executable, args=[sys.argv[2]])
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            await s.call_tool("echo", {"n": 0})
            t0 = time.perf_counter()
            for i in range(n):
                res = await s.call_tool("echo", {"n": i})
                assert res.structured_content == {"n": i}, res
            print(f"{time.perf_counter() - t0:.4f}")


asyncio.run(main(int(sys.argv[1])))
