# Griffin — the two commands a newcomer needs are `make quickstart` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: quickstart test lint typecheck unit bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The quickstart needs the core plus scikit-learn for its demo model.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[sklearn]'

install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'

quickstart: install
	$(BIN)/griffin quickstart

lint: install-dev
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: install-dev
	$(BIN)/mypy
	$(BIN)/mypy benchmarks

# Unit, contract, integration and SDK tests on SQLite, PostgreSQL and Redis.
# pytest exit code 5 ("no tests collected") fails the target: an empty run is not a pass.
test: lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python benchmarks/tracking.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/registry.py
	$(BIN)/python benchmarks/serving.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
