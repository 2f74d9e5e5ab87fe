# ucpsim — `make help` lists the targets.
SWIFT ?= swift
PYTHON ?= python3
APT_PACKAGES := libssl-dev libcurl4-openssl-dev libsqlite3-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN := .build/debug/ucpsim

.DEFAULT_GOAL := help
.PHONY: help deps pydeps browser build run test ci format lint clean bench

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: ## Install the system packages (libssl-dev, libcurl4-openssl-dev, libsqlite3-dev) when missing
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

pydeps: ## Install the Python tools the tests use (independent verifier, schema validator)
	@$(PYTHON) -c "import authlib, http_message_signatures, httpx, jsonschema, referencing, selenium, standardwebhooks, ucp_sdk" 2>/dev/null || \
		$(PYTHON) -m pip install -q --disable-pip-version-check -r Tests/tools/requirements.txt

browser: ## Install headless Chromium and its driver (Debian chromium, chromium-driver) for the browser tests, when missing
	@missing=$$(for p in chromium chromium-driver; do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps ## Build ucpsim (debug)
	$(SWIFT) build

run: build ## Set up, build and run the demo: a shop, the reference receiver, one verified webhook
	$(BIN) demo

test: build pydeps browser ## Set up, build and run the tests
	$(SWIFT) test

ci: lint ## What CI runs: strict format lint, then the tests (warnings are errors), with the UCP schemas required
	UCPSIM_REQUIRE_SCHEMAS=1 $(MAKE) test

format: ## Format the Swift sources in place
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

lint: ## Check formatting and the lint rules in .swift-format (strict: any finding fails)
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

bench: APT_PACKAGES += nginx wrk curl
bench: deps ## Signed deliveries/s per dialect, fan-out, completed checkouts/s, vs the previous build (BENCH_BASELINE), a C sender and an unsigned wrk ceiling; serve's RSS over 100k control-API calls
	$(SWIFT) build -c release --product UCPSimBench
	$(SWIFT) build -c release --product ucpsim
	Tests/bench/bench.sh

clean: ## Remove build products
	rm -rf .build
