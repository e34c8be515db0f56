#!/usr/bin/env bash
# Seeds the corpus of the `check` target from the examples and the UI tests.
# Usage: fuzz/seed.sh   (then: cd fuzz && cargo +nightly fuzz run check)
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus/check
mkdir -p "$out"
find examples tests/ui tests/data -name '*.flow' | while read -r f; do
    cp "$f" "$out/$(echo "$f" | tr '/' '_')"
done
echo "$(ls "$out" | wc -l) seed files in $out"
