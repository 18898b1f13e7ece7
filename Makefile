# MemoryCRM: `make run` starts the app with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DEBUG ?= 1

.PHONY: install run test lint format bench migrate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: left to the resolver, "torch" means a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo
	# Periodic work (idempotent: update_or_create by name) and, on first run, queue the
	# sentiment model's training in the worker; none of these blocks.
	$(BIN)/python manage.py ensure_memory_schedule
	$(BIN)/python manage.py setup_survey_schedules
	$(BIN)/python manage.py setup_schedules
	$(BIN)/python manage.py ensure_outbox_schedule
	$(BIN)/python manage.py ensure_email_schedule
	$(BIN)/python manage.py ensure_sentiment_model
	./scripts/run.sh

# Two test processes by default (pytest-xdist; `make test TEST_PROCESSES=0` runs one). Tests
# that share a fixed Redis database or a bench's database stay in one process (--dist loadgroup).
TEST_PROCESSES ?= 2

test: install
	./scripts/ensure-chromium.sh
	./scripts/ensure-dovecot.sh
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each bench makes, migrates and drops its own database (on DATABASE_URL's server, or SQLite).
bench: install
	nice $(BIN)/python bench/timeline.py
	nice $(BIN)/python bench/search.py
	nice $(BIN)/python bench/sentiment.py
	nice $(BIN)/python bench/dashboard.py
	nice $(BIN)/python bench/survey.py
	nice $(BIN)/python bench/interventions.py
	nice $(BIN)/python bench/load.py
	nice $(BIN)/python bench/memory_fit.py
	nice $(BIN)/python bench/moments.py
	nice $(BIN)/python bench/moments.py --scenarios bench/scenarios/moments_holdout.json
	nice $(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var
