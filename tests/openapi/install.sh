#!/usr/bin/env bash
# Installs openapi-spec-validator (pinned in requirements.txt) into
# target/openapi-venv, for tests/openapi.rs to validate the service's OpenAPI
# document with; does nothing when it is there already.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/openapi-venv
req=tests/openapi/requirements.txt
if [ -x "$venv/bin/openapi-spec-validator" ] && cmp -s "$req" "$venv/requirements.txt"; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$venv/requirements.txt"
