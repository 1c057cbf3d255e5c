# The two commands of the quick start are `make run` and `make test`; CI runs `make test` (.ci/run).
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: run test build unit fuzz lint chart benchmarks bench load replicas golden

run: ## run the service with .env (when it exists) and whatever BRIDGE_* is set (none: serve :8080, print notices to the console)
	@if [ -f .env ]; then echo "make run: reading .env"; set -a; . ./.env; set +a; fi; $(GO) run ./cmd/activitybridge

test: ## everything CI checks: format, vet, staticcheck, race tests, short fuzzing, the Helm chart
	bash scripts/test.sh

build: ## a static binary in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/activitybridge ./cmd/activitybridge

unit: ## the Go tests alone, with the race detector
	$(GO) test -race -count=1 ./...

fuzz: ## every fuzz target for FUZZTIME each (default 20000x inputs; e.g. FUZZTIME=60s make fuzz)
	bash scripts/fuzz.sh

chart: ## the Helm chart and Dockerfile tests (nested module charts/verify)
	cd charts/verify && $(GO) test -count=1 ./...

golden: ## rewrite the golden files after a deliberate template or payload change
	$(GO) test ./render/... -update

benchmarks: bench load replicas ## every benchmark in BENCHMARKS.md: make bench, make load, then make replicas (about 11 min)

bench: ## the Go benchmarks of the hot path
	$(GO) test -run '^$$' -bench . -benchmem ./activity ./internal/receiver ./internal/outbox ./internal/app

load: ## the load benchmark of the real binary against a bare receiver, 14 KB and 1.3 MB bodies (see BENCHMARKS.md)
	$(GO) run ./internal/loadtest
	$(GO) run ./internal/loadtest -body big

replicas: ## several replicas on PostgreSQL (needs PostgreSQL's binaries, as make test): ingestion against bolt and bare, the burst through three replicas, takeover
	$(GO) run ./internal/loadtest -body push -c 32 -d 5s -rounds 3 -store bolt,postgres
	$(GO) test -run '^$$' -bench ReplicasBurstDrain -benchtime 1x ./cmd/activitybridge
	$(GO) test -run '^$$' -bench ReplicasTakeover -benchtime 3x ./cmd/activitybridge
