# StreamFraud build entry points. `make test` is the test command CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1
# libxgboost's OpenMP threads spin while waiting by default; on 2 shared cores that collapses throughput.
export OMP_WAIT_POLICY ?= passive

CONFIGURATION ?= Release
RESULTS := TestResults
# Debian packages the build and tests need: a real redis-server (started per test run by the fixtures, never as a
# system service), libxgboost's C API, and gcc with libc headers for libstreamfraud_amx.so (the managed_bf16 LSTM
# path's AMX product; the build goes on without it, but on a CPU with AMX-BF16 the tests then fail, saying so).
APT_PACKAGES := redis-server libxgboost0 gcc libc6-dev

.PHONY: help deps restore build test devstack demo clean

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install the Debian packages the tests need (as root), or name them
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing -- install them with: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi

restore: ## Restore NuGet packages
	dotnet restore StreamFraud.sln

build: restore ## Build everything (warnings are errors)
	dotnet build StreamFraud.sln -c $(CONFIGURATION) --no-restore

test: deps build ## Build and run every test project; ends with "tests: N passed, N failed"
	@rm -rf $(RESULTS)
	@rc=0; dotnet test StreamFraud.sln -c $(CONFIGURATION) --no-build \
	  --logger "trx" --logger "console;verbosity=minimal" --results-directory $(RESULTS) || rc=$$?; \
	files=$$(ls $(RESULTS)/*.trx 2>/dev/null || true); \
	if [ -z "$$files" ]; then echo "no test results were written" >&2; echo "tests: 0 passed, 1 failed"; exit 1; fi; \
	counts=$$(grep -ho '<Counters [^>]*>' $$files | awk '{ \
	  for (i = 1; i <= NF; i++) { split($$i, kv, "="); gsub(/"|\/|>/, "", kv[2]); \
	    if (kv[1] == "passed") p += kv[2]; if (kv[1] == "failed") f += kv[2]; if (kv[1] == "error") f += kv[2]; \
	    if (kv[1] == "notExecuted") s += kv[2]; } } END { printf "%d %d %d", p, f, s }'); \
	read -r passed failed skipped <<< "$$counts"; \
	if [ "$$rc" != 0 ] && [ "$$failed" = 0 ]; then failed=1; fi; \
	if [ "$$skipped" != 0 ]; then echo "tests: $$passed passed, $$failed failed, $$skipped skipped"; \
	else echo "tests: $$passed passed, $$failed failed"; fi; \
	exit $$rc

devstack: build ## Run the embedded Kafka/Schema Registry/Redis stack on the default ports
	dotnet run --project src/StreamFraud.DevStack -c $(CONFIGURATION) --no-build -- --kafka-port 9092 --registry-port 8081 --redis-port 6379

demo: build ## The whole product locally: stack, data, training, scorer, traffic, alerts (a few minutes)
	deploy/demo.sh

clean: ## Remove build outputs and test results
	dotnet clean StreamFraud.sln -c $(CONFIGURATION) >/dev/null; rm -rf $(RESULTS)
