# asbx developer commands. The two that matter on a fresh machine:
#   make demo   - install, start the local Kafka broker, create topics, run the services and
#                 replay the sample cuckooing scenario
#   make test   - install, lint, type-check and run every test against a real Kafka broker
#                 (browser tests drive Debian's chromium, installed here if missing)
#   make web    - the information-governance review web UI (passwords in var/web/)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The web UI's GOV.UK Frontend assets, pinned in package.json / package-lock.json.
NODE_STAMP := node_modules/.installed
# Browser tests drive Debian's chromium; Playwright must never download a browser of its own.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install demo test lint typecheck unit stop broker topics contracts bench clean browser web

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

$(CHROMIUM):
	$(SUDO) apt-get install -y chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

browser: $(CHROMIUM)

demo: install
	$(BIN)/asbx demo

test: install browser lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy contracts services deploy

unit: install browser
	$(BIN)/pytest -m "not kafka"

web: install
	$(BIN)/asbx web

broker: install
	$(BIN)/asbx broker start

topics: install
	$(BIN)/asbx topics

stop: install
	$(BIN)/asbx broker stop

contracts: install
	$(BIN)/asbx contracts generate

# Performance figures (a script, never a timed test): runs its own empty broker on port 37092.
bench: install
	$(BIN)/python -m tests.benchmarks.pipeline --messages 1500 --latency-messages 600
	$(BIN)/python -m tests.benchmarks.state --subjects 100000 --recovery

clean:
	-$(BIN)/asbx broker stop
	rm -rf $(VENV) var node_modules
