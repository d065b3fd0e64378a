# Every target installs into .venv on first use: a fresh clone needs only Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
SANDBOX_PORT ?= 8765
# Airflow itself is pinned here, not in requirements.txt (Astro refuses that file with an Airflow pin).
AIRFLOW_VERSION := 3.3.2
AIRFLOW_PORT ?= 8080

# Local runs keep everything inside the repo (git-ignored var/).
export PYTHONPATH := $(CURDIR)
export PATH := $(BIN):$(PATH)
export AIRFLOW_HOME ?= $(CURDIR)/var/airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export GX_ANALYTICS_ENABLED := False

.PHONY: install test lint demo sandbox airflow cluster bench dist clean report load

# One pip run, so a dev tool that conflicts with a runtime pin fails the install instead of replacing
# the pin. The provider is editable: Airflow registers the `avepoint` connection type from its entry point.
# Not quiet: the first install takes minutes, and a person should see it moving.
$(INSTALLED): requirements.txt requirements-dev.txt provider/pyproject.toml
	@echo "==> [1/3] Creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] Upgrading pip"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	@echo "==> [3/3] Installing Airflow $(AIRFLOW_VERSION), requirements.txt, requirements-dev.txt and the provider" \
		"(first time: 3 to 5 minutes, one line per package)"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off apache-airflow==$(AIRFLOW_VERSION) \
		-r requirements.txt -r requirements-dev.txt -e ./provider
	touch $@
	@echo "==> Installed into $(VENV)"

install: $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

demo: $(INSTALLED)
	$(BIN)/python -m tools.demo

sandbox: $(INSTALLED)
	$(BIN)/python -m avepoint_sandbox --host 127.0.0.1 --port $(SANDBOX_PORT) --state-file var/sandbox-state.json

airflow: $(INSTALLED)
	$(BIN)/python -m tools.local_airflow --sandbox-port $(SANDBOX_PORT) --api-port $(AIRFLOW_PORT)

# The same project on a CeleryExecutor cluster (PostgreSQL metadata, Redis broker, two workers).
cluster: $(INSTALLED)
	$(BIN)/python -m tools.local_cluster --sandbox-port $(SANDBOX_PORT) --api-port $(AIRFLOW_PORT)

bench: $(INSTALLED)
	$(BIN)/python -m bench

# Customers from a CSV file into the warehouse table as pending (README), e.g.
# make load CSV=docs/sample-customers.csv  (LOAD_ARGS=--dry-run checks every row, loads nothing)
load: $(INSTALLED)
	@test -n "$(CSV)" || { echo "usage: make load CSV=path/to/customers.csv (see docs/sample-customers.csv)"; exit 2; }
	@$(BIN)/python -m tools.load $(LOAD_ARGS) "$(CSV)"

# The audit export of the rows needing a human (README), e.g.
# make report REPORT_ARGS="--status failed --format json --output var/failed.json"
report: $(INSTALLED)
	@$(BIN)/python -m tools.report $(REPORT_ARGS)

# The provider wheel, and for MWAA plugins.zip with requirements-mwaa.txt (docs/DEPLOY.md).
dist: $(INSTALLED)
	$(BIN)/python -m tools.dist

clean:
	rm -rf var .pytest_cache .ruff_cache dist build
