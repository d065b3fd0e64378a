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
$(INSTALLED): requirements.txt requirements-dev.txt provider/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check apache-airflow==$(AIRFLOW_VERSION) \
		-r requirements.txt -r requirements-dev.txt -e ./provider
	touch $@

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
