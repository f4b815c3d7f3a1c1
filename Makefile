# asbx developer commands. The two that matter on a fresh machine:
#   make demo   - install, start the local Kafka broker, create topics, run the services and
#                 replay the sample cuckooing scenario
#   make test   - install, lint, type-check and run every test against a real Kafka broker
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit stop broker topics contracts bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/asbx demo

test: install lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy contracts services deploy

unit: install
	$(BIN)/pytest -m "not kafka"

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
	rm -rf $(VENV) var
