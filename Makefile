# README's two commands: `make demo` and `make test`. Each sets everything up on a fresh
# machine (a virtualenv with the project and its dev extras, the Debian packages the tests
# need) and runs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint bench system clean help

help:
	@echo "make demo   - set up, then run the main job on embedded defaults (synthetic world, local DuckDB)"
	@echo "make test   - set up, then run the test suite"
	@echo "make lint   - ruff and mypy on the package"
	@echo "make bench  - run every benchmark in benchmarks/ (slow: minutes)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

system:
	@scripts/system-deps.sh

demo: $(STAMP) system
	$(BIN)/workbench demo

test: $(STAMP) system
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/mypy workbench

bench: $(STAMP) system
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
