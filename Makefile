# Chat hub: WebSocket chat gateways on NATS with JetStream history.
#
#   make run    the chat on http://localhost:8080, NATS embedded (data in ./data)
#   make test   lint, then every test, with the race detector (browser tests need chromium: see README)
#   make bench-compare CENTRIFUGO=/path/to/centrifugo
#               the gateway process (and Centrifugo) under the external load generator

GO        ?= go
FUZZTIME  ?= 30000x
BIN       ?= bin

# Lint tools, pinned; `make lint` installs each with `go install` into .bin/<tool>-<version>/
# (gitignored), so a machine with only Go (and network to the module proxy) can lint. No tool
# is ever skipped: when one cannot be installed, lint fails.
TOOLS               := $(CURDIR)/.bin
STATICCHECK_VERSION := v0.8.2
DEADCODE_VERSION    := v0.52.0
STATICCHECK         := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
DEADCODE            := $(TOOLS)/deadcode-$(DEADCODE_VERSION)/deadcode

.PHONY: run test test-go test-fuzz test-browser build bench bench-compare bench-idle fmt lint cluster check-cluster soak-hostile clean

run:
	$(GO) run ./cmd/gateway

test: lint test-go test-fuzz test-browser

# One package at a time (-p 1): the cluster tests run real processes and the gateway tests a
# thousand clients; on a 2-core machine they would otherwise starve each other's timings.
test-go:
	$(GO) test -race -count=1 -p 1 -timeout 20m ./...

# Each fuzz target runs a bounded number of inputs (go test runs one fuzz target at a time).
# A count, not a duration: with a duration, go test fails the target with "context deadline
# exceeded" when the time runs out while it is still minimizing or gathering coverage, which
# on a busy machine happened one run in a few. 30000 inputs take 1-13 s per target here.
test-fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$fz ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$fz$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s $$pkg; \
	  done; \
	done

# Browser tests: Playwright (playwright-core) driving Debian's chromium against real gateways.
# Outside CI, a missing node or chromium skips them with a reason; with CI=true it fails.
test-browser:
	@if ! command -v node >/dev/null 2>&1; then \
	  if [ -n "$$CI" ]; then echo "browser tests: node is missing" >&2; exit 1; fi; \
	  echo "browser tests skipped: node is not installed"; exit 0; \
	fi; \
	cd web/e2e && npm ci --no-audit --no-fund --silent && node --test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# The gateway as a process, embedded NATS, fresh data dir, rate limits off, under the load
# generator in tools/bench (1,000 clients in 10 rooms, 10 publishers, 100-byte messages, 2 s
# warm-up, 10 s measured) at each offered rate in RATES, then idle: IDLE_CLIENTS connections
# joined to the rooms (server RSS per connection, time to join all); between them light load,
# LIGHT_RATE msg/s to 100 clients in one room from one publisher (p50 / p99). With
# CENTRIFUGO=/path/to/centrifugo (v6.9.1: docs/benchmarks.md says how to build it), Centrifugo
# runs the same loads, alternating with the gateway. Every run starts a fresh server; the
# results stay in BENCH_DIR. PROFILE_RATE=8000 also writes a CPU profile of the gateway at that
# rate (BENCH_DIR/chat-load-8000-1/cpu.pprof). Prints a table per run, then the comparison.
RATES        ?= 2000 3000 4000 5000 8000 12000
ROUNDS       ?= 1
IDLE_CLIENTS ?= 10000
LIGHT_RATE   ?= 100
CENTRIFUGO   ?=
PROFILE_RATE ?=
BENCH_DIR    ?= $(CURDIR)/tmp/bench-$(shell date -u +%Y%m%dT%H%M%SZ)
bench-compare:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/gateway ./cmd/gateway
	$(GO) build -trimpath -o $(BIN)/bench ./tools/bench
	GATEWAY_BIN=$(abspath $(BIN))/gateway BENCH_BIN=$(abspath $(BIN))/bench CENTRIFUGO_BIN=$(CENTRIFUGO) \
	  GATEWAY_ARGS='--addr 127.0.0.1:{port} --data-dir {dir}/data --message-rate 0 --command-rate 0 --debug-addr 127.0.0.1:{debug}' \
	  CLIENTS=1000 ROOMS=10 PUBLISHERS=10 SIZE=100 WARMUP=2s DURATION=10s RATES='$(RATES)' ROUNDS=$(ROUNDS) \
	  IDLE_CLIENTS=$(IDLE_CLIENTS) IDLE_WAIT=10s LIGHT_RATE=$(LIGHT_RATE) PROFILE_RATE=$(PROFILE_RATE) WORK_DIR=$(BENCH_DIR) \
	  ./tools/bench/compare.sh

# One idle run of the gateway process alone: IDLE_CLIENTS connections joined to 10 rooms,
# server RSS per connection (tools/bench/idle.sh; IDLE_ENV="GOMEMLIMIT=192MiB" sets the
# gateway's environment, DIAG=1 saves a heap profile and runtime metrics).
IDLE_ENV ?=
bench-idle:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/gateway ./cmd/gateway
	$(GO) build -trimpath -o $(BIN)/bench ./tools/bench
	GATEWAY_BIN=$(abspath $(BIN))/gateway BENCH_BIN=$(abspath $(BIN))/bench CLIENTS=$(IDLE_CLIENTS) \
	  ./tools/bench/idle.sh $(IDLE_ENV)

fmt:
	gofmt -w $$(git ls-files '*.go')

# go vet, gofmt, staticcheck, and deadcode: functions reachable neither from a main package nor
# from a test (-test) fail the lint; remove them.
lint: $(STATICCHECK) $(DEADCODE)
	$(GO) vet ./...
	GOARCH=386 $(GO) vet ./... # 32-bit builds (a Raspberry Pi): an int is 32 bits there
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(STATICCHECK) ./...
	@out="$$($(DEADCODE) -test ./...)" || exit 1; \
	if [ -n "$$out" ]; then echo "$$out"; echo "deadcode: unreachable functions (remove them)" >&2; exit 1; fi

$(STATICCHECK):
	GOBIN=$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(DEADCODE):
	GOBIN=$(@D) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)

cluster:
	./deploy/local-cluster.sh

# A randomized schedule of client actions and process failures on a real cluster (three
# NATS nodes, three gateways, HAProxy), every client checking what it receives:
#   make check-cluster DURATION=30m SEED=42
# DURATION is how long steps are drawn (the end is checked after); SEED repeats a schedule
# (empty: a random one, printed). make test runs a short one (75 s) with the other tests.
DURATION ?= 5m
SEED     ?=
check-cluster:
	CHECKER_STRICT=1 CHECKER_DURATION=$(DURATION) CHECKER_SEED=$(SEED) \
	  $(GO) test -race -count=1 -v -timeout 0 -run '^TestRandomCluster$$' ./internal/clustertest

# Hostile clients against one gateway process (history hogs, connect storms, room and
# private-room spam, floods, garbage frames) while well-behaved clients check they get
# everything once; the gateway's RSS must stay under a bound. make test runs 20 s of it:
#   make soak-hostile DURATION=10m
soak-hostile:
	HOSTILE_DURATION=$(DURATION) $(GO) test -race -count=1 -v -timeout 0 -run '^TestHostileSoak$$' ./internal/clustertest

clean:
	rm -rf $(BIN)
