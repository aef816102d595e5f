# Kinbridge. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help

BIN        := $(CURDIR)/.bin
BUF        := $(BIN)/buf
PLUGINS    := $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2
GO_TEST    ?= go test -race -count=1
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS    := -X main.version=$(VERSION)

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-20s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the whole suite on embedded defaults (SQLite, local files) and print its URLs.
	go run -ldflags "$(LDFLAGS)" ./cmd/kinbridge serve all

.PHONY: build
build: ## Build bin/kinbridge.
	go build -ldflags "$(LDFLAGS)" -o bin/kinbridge ./cmd/kinbridge

.PHONY: test
test: lint check-generated check-thirdparty check-web check-deploy unit ## Lint, check generated code, the third-party protos and the built web app, then run unit and integration tests with -race.

.PHONY: unit
unit: ## Run unit and integration tests (-race). Real backends are used when reachable.
	# cmd/kinbridge's suite tests take most of go test's default 10 minutes
	# per package on a busy 2-core machine: a timeout is for a hang.
	$(GO_TEST) -timeout 30m ./...

.PHONY: e2e
e2e: ## Run end-to-end journeys against a `kinbridge serve all` built from this tree (backends, Jaeger, node and chromium when present; see KINBRIDGE_TEST_REQUIRE).
	$(GO_TEST) -tags e2e -timeout 40m ./e2e/...

.PHONY: cluster cluster-e2e
cluster: ## As root: build a cluster of hosts (network namespaces): two gateways, two of each service (TLS and mutual TLS on), PostgreSQL, NATS, Redis, MinIO and Jaeger; print its URLs and CA, tear it down on Ctrl-C.
	go run -tags cluster ./cluster/run

cluster-e2e: ## As root: the cluster test (README journeys through either gateway over mutual TLS, a host killed, a slowed hop in Jaeger); needs scripts/minio.sh's and scripts/jaeger.sh's binaries.
	go vet -tags cluster ./cluster/...
	$(GO_TEST) -tags cluster -timeout 20m -run '^TestCluster$$' ./cluster/

.PHONY: bench bench-notifications bench-uploads bench-hops bench-chain bench-events
# RATIOS is the JSON file `make bench` writes its table of ratios to.
RATIOS ?= bench-ratios-$(shell date -u +%Y%m%dT%H%M%SZ).json
bench: ## Run every benchmark below, then print one table of their ratios and write it as JSON (RATIOS=file, default bench-ratios-<time>.json); exits non-zero only on a wrong run.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir "$$tmp/ratios" && \
	go build -ldflags "$(LDFLAGS)" -o "$$tmp/kinbridge" ./cmd/kinbridge && \
	go build -o "$$tmp/hops" ./bench/hops && go build -o "$$tmp/bench" ./bench/notifications && \
	go build -o "$$tmp/bench-uploads" ./bench/uploads && go build -o "$$tmp/report" ./bench/report && \
	go build -o "$$tmp/events" ./bench/events && \
	status=0 && \
	{ "$$tmp/hops" -bin "$$tmp/kinbridge" -report-dir "$$tmp/ratios" $(HOPS_BENCH_FLAGS) || status=1; } && \
	{ go run ./bench/chain -report-dir "$$tmp/ratios" $(CHAIN_BENCH_FLAGS) || status=1; } && \
	{ "$$tmp/events" -bin "$$tmp/kinbridge" -report-dir "$$tmp/ratios" $(EVENTS_BENCH_FLAGS) || status=1; } && \
	{ "$$tmp/bench" -bin "$$tmp/kinbridge" -report-dir "$$tmp/ratios" $(BENCH_FLAGS) || status=1; } && \
	{ "$$tmp/bench-uploads" -bin "$$tmp/kinbridge" -report-dir "$$tmp/ratios" $(UPLOAD_BENCH_FLAGS) || status=1; } && \
	{ "$$tmp/report" -dir "$$tmp/ratios" -out "$(RATIOS)" || status=1; } && \
	exit $$status

bench-hops: ## Benchmark REST via the gateway / gRPC and tracing exported / off, side by side; HOPS_BENCH_FLAGS="-h" for knobs.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	go build -ldflags "$(LDFLAGS)" -o "$$tmp/kinbridge" ./cmd/kinbridge && \
	go build -o "$$tmp/hops" ./bench/hops && \
	"$$tmp/hops" -bin "$$tmp/kinbridge" $(HOPS_BENCH_FLAGS)

bench-chain: ## Benchmark the full server chain / a bare grpc.NewServer (services/progress BenchmarkChainVsBare, -benchmem).
	@go run ./bench/chain $(CHAIN_BENCH_FLAGS)

bench-events: ## Benchmark events recorded -> every guardian's inbox per second (one child, 100 children; SQLite, and PostgreSQL when reachable); EVENTS_BENCH_FLAGS="-h" for knobs.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	go build -ldflags "$(LDFLAGS)" -o "$$tmp/kinbridge" ./cmd/kinbridge && \
	go build -o "$$tmp/events" ./bench/events && \
	"$$tmp/events" -bin "$$tmp/kinbridge" $(EVENTS_BENCH_FLAGS)

bench-notifications: ## Benchmark live notifications (delivery latency, memory per idle feed) on a built serve all; BENCH_FLAGS="-h" for knobs.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	go build -ldflags "$(LDFLAGS)" -o "$$tmp/kinbridge" ./cmd/kinbridge && \
	go build -o "$$tmp/bench" ./bench/notifications && \
	"$$tmp/bench" -bin "$$tmp/kinbridge" $(BENCH_FLAGS)

bench-uploads: ## Benchmark uploads of a 1 GiB file (throughput, peak server memory) per upload path; UPLOAD_BENCH_FLAGS="-h" for knobs.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	go build -ldflags "$(LDFLAGS)" -o "$$tmp/kinbridge" ./cmd/kinbridge && \
	go build -o "$$tmp/bench-uploads" ./bench/uploads && \
	"$$tmp/bench-uploads" -bin "$$tmp/kinbridge" $(UPLOAD_BENCH_FLAGS)

# Packaging: deploy/ is a Go module of its own (like tools/), so the image
# builder's, compose-go's, Helm's and Kubernetes' modules stay out of the
# services' go.mod. The image is built without a container daemon.
IMAGE_BIN := bin/kinbridge-linux-amd64
.PHONY: image check-deploy
image: ## Build the OCI image without a daemon from a static binary: bin/kinbridge-image.tar (docker/podman load; kinbridge:VERSION and :latest) and bin/kinbridge-oci (an OCI layout).
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "$(LDFLAGS)" -o $(IMAGE_BIN) ./cmd/kinbridge
	go -C deploy run ./cmd/kinbridge-image -binary $(CURDIR)/$(IMAGE_BIN) -version $(VERSION) \
		-revision $$(git rev-parse HEAD) -created $$(git log -1 --format=%ct) \
		-tar $(CURDIR)/bin/kinbridge-image.tar -oci $(CURDIR)/bin/kinbridge-oci
check-deploy: ## Vet and test deploy/: the image (config, files, a static binary that runs), the Dockerfile, compose.yaml (compose-go) and the Helm chart (helm lint; helm template decoded strictly into the Kubernetes API types).
	go -C deploy vet ./...
	go -C deploy test -count=1 ./...

# Tools are built from the pinned tools modules; a change to their go.mod
# rebuilds them.
$(BUF): tools/buf/go.mod tools/buf/go.sum
	GOBIN=$(BIN) go -C tools/buf install tool
	@touch $@
$(PLUGINS) &: tools/go.mod tools/go.sum
	GOBIN=$(BIN) go -C tools install tool
	@touch $(PLUGINS)

.PHONY: tools
tools: $(BUF) $(PLUGINS) ## Build the pinned code-generation tools into .bin/.

.PHONY: thirdparty check-thirdparty
thirdparty: ## Copy the third-party protos scripts/thirdparty-protos.sh lists from their pinned Go modules into third_party/proto (commit them).
	./scripts/thirdparty-protos.sh copy
check-thirdparty: ## Fail unless third_party/proto is committed and exactly the files scripts/thirdparty-protos.sh lists, byte for byte.
	./scripts/thirdparty-protos.sh check
	@test -z "$$(git status --porcelain -- third_party/)" || { git status --porcelain -- third_party/; echo "third_party/ has uncommitted changes: commit them"; exit 1; }

.PHONY: docs-ui
docs-ui: ## Copy the files of /docs's Swagger UI from the swagger-ui-dist pinned in gateway/docs/package.json (npm) into gateway/docs/swagger-ui.
	./scripts/swagger-ui.sh copy

.PHONY: generate
generate: tools ## Regenerate gen/ from proto/ (and the TypeScript client's types when npm is present).
	rm -rf gen/go gen/openapiv2/*.json gen/openapi/*.json
	$(BUF) generate
	go run ./internal/openapigen -in gen/openapiv2/kinbridge.swagger.json -out gen/openapi/kinbridge.openapi.json
	@# The TypeScript types need node and the packages pinned in client/typescript;
	@# without them they are left as they are (go test ./client/typescript checks
	@# them where node is).
	@if command -v npm >/dev/null && (cd client/typescript && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent; }); then \
		npm --prefix client/typescript run --silent generate; \
	else echo "npm or its packages unavailable: client/typescript/src/schema.ts left as it is"; fi

.PHONY: web check-web
web: ## Build the family app (web/src) into web/dist with the npm packages pinned in web/package-lock.json (commit web/dist).
	cd web && npm ci --no-audit --no-fund --silent && npm run --silent build

check-web: ## Fail if web/dist differs from what web/ builds (skipped without npm; go test ./web checks it too).
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory web && \
		{ git diff --exit-code --stat -- web/dist && test -z "$$(git status --porcelain -- web/dist)"; } || \
		{ git status --porcelain -- web/dist; echo "web/dist is stale: run 'make web' and commit"; exit 1; }; \
	else echo "npm unavailable: web/dist not checked"; fi

.PHONY: check-generated
check-generated: generate ## Fail if gen/ differs from what proto/ generates.
	@git diff --exit-code --stat -- gen/ || { echo "gen/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked files: run 'make generate' and commit"; exit 1; }

.PHONY: lint
lint: tools ## buf lint and format, gofmt, go vet.
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	go vet ./...
	go vet -tags e2e ./e2e/...

.PHONY: breaking
breaking: tools ## buf breaking against HEAD~1 (skipped when HEAD says Breaking-Change:).
	./scripts/buf-breaking.sh HEAD~1

.PHONY: clean
clean: ## Remove built tools, binaries and the local data directory.
	rm -rf .bin bin data

.PHONY: screenshots
screenshots: ## Take the family app's screenshots (each main page, phone and desktop size) into DIR=directory, from a seeded suite in Chromium (TestAppScreenshots); docs/img/ holds a few of them.
	@test -n "$(DIR)" || { echo "usage: make screenshots DIR=directory"; exit 2; }
	mkdir -p "$(DIR)"
	KINBRIDGE_SCREENSHOTS="$$(cd "$(DIR)" && pwd)" KINBRIDGE_TEST_REQUIRE=chromium,node $(GO_TEST) -tags e2e -timeout 15m -run '^TestAppScreenshots$$' ./e2e/
