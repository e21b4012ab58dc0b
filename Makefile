# Every routine verb of the project. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench security-table configuration-doc clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# Reinstall whenever pyproject.toml changes. torch comes first, pinned to the CPU wheel on this
# disk: left to the resolver, the `diffusers` extra's dependency on torch would pull a CUDA build of
# several GB. With the extra, the diffusers engine's tests run on tiny models built offline.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,diffusers]'
	touch $(STAMP)

# The doctor's warnings and failures first (a fresh install prints none); they never stop the server.
run: $(STAMP)
	-$(BIN)/vidgate doctor --quiet-ok
	$(BIN)/vidgate serve --dev

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/motion.py

# docs/security.md's attack tables, from the test suite's attack cases (a test checks they match).
security-table: $(STAMP)
	$(BIN)/python benchmarks/security_table.py

# docs/configuration.md's tables, from the settings' descriptions (a test checks they match).
configuration-doc: $(STAMP)
	$(BIN)/python -m vidgate.settings_doc

# docs/licences.md's tables, from the installed packages' metadata (a test checks they match).
.PHONY: licences
licences: $(STAMP)
	$(BIN)/python benchmarks/licences.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The reliability bar: kill -9 of workers during 200 tasks, on SQLite and PostgreSQL (skipped if down).
.PHONY: chaos
chaos: $(STAMP)
	$(BIN)/python benchmarks/chaos.py
