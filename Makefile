# The two set-up commands for a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin

.PHONY: all build demo test test-go lint bench tasks clean

all: build

build:
	$(GO) build -o $(BIN)/lake ./cmd/lake

# tasks cross-compiles every Lambda the way SAM builds them.
tasks:
	@for d in tasks/*/; do \
		n=$$(basename $$d); \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o $(BIN)/tasks/$$n/bootstrap ./$$d || exit 1; \
	done

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
