# Smartdesk: `make run` serves the product, `make test` runs the suite. `make help` lists all.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
WEB_PORT ?= 8000
WS_PORT ?= 8001
PYTEST_ARGS ?=
HISTORY_DAYS ?= 30

.PHONY: help install run test lint format messages migrate clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## Create .venv and install everything (run and test)

migrate: install ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

run: install ## Serve the whole product on http://127.0.0.1:8000 (embedded, or PostgreSQL+Redis when DATABASE_URL/REDIS_URL are set)
	$(BIN)/python manage.py migrate --noinput
	@if [ -n "$$DATABASE_URL" ] || [ -n "$$REDIS_URL" ]; then \
		$(BIN)/python manage.py collectstatic --noinput --verbosity 0 && \
		$(BIN)/python manage.py seed_demo --if-debug --history $(HISTORY_DAYS) && \
		HOST=$(HOST) WEB_PORT=$(WEB_PORT) WS_PORT=$(WS_PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f deploy/Procfile -d $(CURDIR); \
	else \
		$(BIN)/python manage.py seed_demo --history $(HISTORY_DAYS) && \
		echo "Serving on http://$(HOST):$(WEB_PORT)/ (embedded: SQLite, in-memory channel layer, eager Celery)" && \
		$(BIN)/uvicorn smartdesk.asgi:application --host $(HOST) --port $(WEB_PORT) --lifespan off; \
	fi

test: install ## Run the whole suite: unit, in-process, browser; then the real processes and benches
	$(BIN)/pytest -n auto --ignore=tests/system --ignore=tests/bench $(PYTEST_ARGS) || [ $$? -eq 5 ]
	@# The production shape (uvicorn, Celery worker and beat on a private redis-server) and the
	@# benchmark smoke runs start processes of their own: one at a time, not beside xdist workers.
	$(BIN)/pytest -p no:xdist tests/system tests/bench $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: install ## ruff check, ruff format --check, the import layers, Django system checks, migrations up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# The layers of docs/architecture.md ([tool.importlinter] in pyproject.toml).
	$(BIN)/lint-imports
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/hadolint deploy/Dockerfile
	@# The Kubernetes manifests, rendered offline and checked against the vendored schemas.
	@if command -v kubectl >/dev/null; then \
		kubectl kustomize deploy/k8s/overlays/example | $(BIN)/python deploy/k8s/validate.py -; \
	else echo "kubectl not found: deploy/k8s not rendered (tests/deploy fails on CI without it)"; fi

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: install ## Re-extract translatable strings and compile locale/ (needs gettext)
	$(BIN)/python manage.py makemessages --locale ru --locale en --ignore '.venv/*' --ignore 'static/vendor/*' --ignore 'tests/*' --ignore 'bench/*'
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

clean: ## Remove the virtual environment and the embedded database
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
