#!/usr/bin/env bash
# Installs the official MCP Python SDK (pinned in requirements.txt) into
# target/mcp-venv, for the MCP tests' real servers and clients; does nothing
# when it is there already.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/mcp-venv
req=tests/mcp/requirements.txt
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.txt"; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$venv/requirements.txt"
