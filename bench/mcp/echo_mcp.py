"""An MCP server that does no work, for bench/mcp_overhead.sh: `echo(n)`
answers `{ "n": n }`. Written with the official Python SDK (PyPI `mcp`)."""
from typing_extensions import TypedDict

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo")


class Echoed(TypedDict):
    n: int


@server.tool()
def echo(n: int) -> Echoed:
    """Answers its argument."""
    return {"n": n}


if __name__ == "__main__":
    server.run()
