#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 20000x: that many inputs). New interesting inputs land in the
# packages' testdata/fuzz folders: commit the ones worth keeping.
set -euo pipefail
cd "$(dirname "$0")/.."
# A count (Nx), not a duration: with a duration the fuzz coordinator can end on a spurious
# "context deadline exceeded" on a loaded machine.
FUZZTIME=${FUZZTIME:-20000x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    echo "fuzz: $pkg $target ($FUZZTIME)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done
