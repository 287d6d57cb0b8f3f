# One command for each chore, the same for people and CI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint bench sandbox demo clean lock wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install exactly the locked, hash-checked versions (then the project itself, without
# dependencies); reinstall whenever the lock or pyproject.toml changes.
$(STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Refresh both lock files from pyproject.toml (pip-tools: hashes, plain requirements files
# that pip itself installs with --require-hashes).
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -o requirements-dev.lock pyproject.toml

run: $(STAMP)
	$(BIN)/lienthong run

sandbox: $(STAMP)
	$(BIN)/lienthong sandbox

demo: $(STAMP)
	$(BIN)/lienthong demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The suite without the tests marked slow (crash, browser, bench smoke): for the edit loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check gateway adapters tests bench
	$(BIN)/ruff format --check gateway adapters tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The wheel into dist/ (docs/deployment.md); build/ is removed first, since setuptools
# would otherwise carry files of an earlier build into it.
wheel: $(STAMP)
	rm -rf build
	$(BIN)/python -m build --wheel --outdir dist

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
