#!/usr/bin/env bash
# Runs every Go fuzz target in the module for $1 (default 60s) each, one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-60s}"
grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r pkg; do
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go | sed 's/^func //'); do
    echo "=== $pkg $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
  done
done
