#!/usr/bin/env bash
# The whole test suite: the command the README's quick start gives and CI (.ci/run) runs. It installs what
# it needs through the Go module proxy (staticcheck) and needs nothing else than Go, gcc (race detector) and git.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './charts/verify/*'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "go test -race"
go test -race -count=1 ./...

step "fuzzing (${FUZZTIME:=20000x} inputs per target)"
FUZZTIME=$FUZZTIME bash scripts/fuzz.sh

if [ -d charts/verify ]; then
  step "Helm chart and Dockerfile (charts/verify)"
  (cd charts/verify && go vet ./... && go test -count=1 ./...)
fi

step "the chart's README is what helm-docs writes from values.yaml"
bash scripts/helm-docs.sh --check

step "all passed"
