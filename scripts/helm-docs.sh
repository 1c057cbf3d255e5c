#!/usr/bin/env bash
# Writes charts/activitybridge/README.md from README.md.gotmpl and the comments of values.yaml with helm-docs
# (github.com/norwoodj/helm-docs, run through the Go module proxy). With --check it changes nothing and fails
# when the README is not what helm-docs would write (CI runs that from scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
helm_docs=(go run github.com/norwoodj/helm-docs/cmd/helm-docs@v1.14.2 --chart-search-root charts
  --skip-version-footer --log-level warning)
if [ "${1:-}" = "--check" ]; then
  want=$("${helm_docs[@]}" --dry-run)
  if [ "$want" != "$(cat charts/activitybridge/README.md)" ]; then
    echo "charts/activitybridge/README.md is out of date: run bash scripts/helm-docs.sh and commit it" >&2
    diff <(echo "$want") charts/activitybridge/README.md >&2 || true
    exit 1
  fi
  echo "charts/activitybridge/README.md is up to date"
  exit 0
fi
"${helm_docs[@]}"
