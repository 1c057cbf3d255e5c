#!/usr/bin/env bash
# The whole test suite: the command the README's quick start gives and CI (.ci/run) runs. It installs what
# it needs through the Go module proxy (staticcheck) and needs nothing else than Go, gcc (race detector) and git;
# the PostgreSQL server binaries the postgres store's tests use are installed with apt-get when missing.
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

step "PostgreSQL server binaries (for the postgres store's tests)"
# internal/pgtest starts a throwaway server from these; under CI=true a missing server fails those tests.
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "found: $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
elif command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  # The tests start their own server: keep the package from creating and starting a system cluster.
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/activitybridge-tests.conf >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
else
  echo "PostgreSQL is not installed and apt-get is missing: the postgres store's tests will skip (or fail under CI=true)"
fi

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
