#!/usr/bin/env bash
# Installs the MCP Inspector (npm `@modelcontextprotocol/inspector`, pinned by
# tests/mcp/inspector/package-lock.json) into target/mcp-inspector, for the
# test that lists and calls flows with its CLI mode; does nothing when it is
# there already. Install scripts are not run (the CLI needs none).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=target/mcp-inspector
lock=tests/mcp/inspector/package-lock.json
if [ -x "$dir/node_modules/.bin/mcp-inspector" ] && cmp -s "$lock" "$dir/package-lock.json"; then
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
cp tests/mcp/inspector/package.json "$lock" "$dir/"
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
