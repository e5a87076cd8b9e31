# The two set-up commands for a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin

.PHONY: all build demo test test-go lint bench tasks clean

all: build

build:
	$(GO) build -o $(BIN)/lake ./cmd/lake

# Lambda builds. `sam build` runs `make build-<LogicalId>` for each function
# of template.yaml (BuildMethod: makefile, CodeUri: .) with ARTIFACTS_DIR set
# to that function's build folder, in a scratch copy of the repository (or,
# with --build-in-source, here). Each target builds one tasks/<name> for the
# provided.al2023 arm64 runtime: static (cgo off), without aws-lambda-go's
# RPC server, stripped, and reproducible: -trimpath and -buildvcs=false keep
# the build folder and the commit out of the binary, and GOFLAGS from the
# caller's environment is ignored, so the same source gives the same bytes
# wherever and whenever it is built.
LAMBDA_ENV   := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GOFLAGS=
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w'

# lambda builds ./tasks/$(1) into $(2)/bootstrap.
define lambda
$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(2)/bootstrap" ./tasks/$(1)
endef

# sam-lambda is a build-<LogicalId> target's recipe: ARTIFACTS_DIR is required.
sam-lambda = $(if $(ARTIFACTS_DIR),$(call lambda,$(1),$(ARTIFACTS_DIR)),$(error ARTIFACTS_DIR is not set: sam build sets it; by hand: make $@ ARTIFACTS_DIR=DIR))

.PHONY: build-PlanFunction build-IngestFunction build-ValidateFunction build-RouteFunction build-CrawlFunction build-RecordFailureFunction build-MaintainFunction
build-PlanFunction:          ; $(call sam-lambda,plan)
build-IngestFunction:        ; $(call sam-lambda,ingest)
build-ValidateFunction:      ; $(call sam-lambda,validate)
build-RouteFunction:         ; $(call sam-lambda,route)
build-CrawlFunction:         ; $(call sam-lambda,crawl)
build-RecordFailureFunction: ; $(call sam-lambda,recordfailure)
build-MaintainFunction:      ; $(call sam-lambda,maintain)

# tasks builds every Lambda the way sam build does, into bin/tasks/<name>/.
tasks:
	@for d in tasks/*/; do n=$$(basename $$d); $(call lambda,$$n,$(BIN)/tasks/$$n) || exit 1; done

# demo starts a disposable PostgreSQL, seeds the orders table and runs the
# whole pipeline locally into ./lake.
demo: build
	scripts/demo.sh

# test starts every service the tests need (PostgreSQL, versitygw,
# moto_server), runs all the checks and stops the services again.
test:
	scripts/test.sh

bench: build
	scripts/bench.sh

clean:
	rm -rf $(BIN) lake .tmp
