#!/usr/bin/env bash
# Installs the language server's test client (pytest-lsp, pinned in
# requirements.txt) into target/lsp-venv; does nothing when it is there already.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/lsp-venv
req=tests/lsp/requirements.txt
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.txt"; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$venv/requirements.txt"
