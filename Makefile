# django-textlink: the two commands for a fresh machine are `make demo` and `make test`.
# Both create their own virtualenv; nothing but Python 3.10+ needs to be installed.

PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

# A Python 3.12+ for the Django 6.x run: PYTHON_LATEST=... overrides the search.
PYTHON_LATEST ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV) python3.13 python3.12; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV_LATEST ?= .venv-django61
DJANGO_LATEST ?= Django>=6.1,<6.2
# Variables for that run's pytest (test-postgres sets TEXTLINK_TEST_DB=postgres).
LATEST_ENV ?=
# The oldest Python the package claims (3.10): test-postgres runs Django 5.2 on it when it is
# installed (PYTHON_OLDEST=... overrides the search; REQUIRE_OLDEST=1, as .ci/run sets, makes
# its absence an error instead of falling back to $(PYTHON)).
PYTHON_OLDEST ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3 2>/dev/null | sort -V) python3.10; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV_OLDEST ?= .venv-py310
REQUIRE_OLDEST ?=

.PHONY: demo worker test test-fast lint typecheck pytest test-latest test-postgres bench bench-webhooks clean help

help:
	@echo "make demo    run the example project at http://127.0.0.1:$(PORT) (PORT=... to change)"
	@echo "make worker  run the example's task worker (for the example run by hand with TEXTLINK_TASKS=db)"
	@echo "make test    lint, type-check and run every test (Django 5.2, and Django 6.1 on Python 3.12+)"
	@echo "make test-fast  every test but the end-to-end ones (demo, browser, workers), Django 5.2"
	@echo "make test-postgres  every test again on the PostgreSQL server that PGHOST (PGPORT, PGUSER,"
	@echo "             PGPASSWORD) names, both Django versions (5.2 on Python 3.10 when installed);"
	@echo "             .ci/run starts a throwaway server for it"
	@echo "make bench   run the benchmarks in bench/ (make bench-webhooks: the webhook one, under gunicorn)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[drf,test,dev,example]" "Django>=5.2,<5.3"
	@rm -f $(VENV)/.installed-*
	@touch $@

# The whole loop offline (docs/demo.md): example_project/demo.py migrates its own
# database (example_project/demo.sqlite3), creates the demo admin and contacts, and runs the
# TextLink sandbox (SANDBOX_PORT, 8025), a task worker and the site (PORT) until Ctrl-C.
demo: $(STAMP)
	PORT=$(PORT) $(BIN)/python example_project/demo.py

# The example's task worker, for running the example project by hand with TEXTLINK_TASKS=db
# (`make demo` starts its own; see docs/tasks.md).
worker: $(STAMP)
	cd example_project && TEXTLINK_TASKS=db ../$(BIN)/python manage.py migrate --noinput
	cd example_project && TEXTLINK_TASKS=db ../$(BIN)/python manage.py db_worker

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy django_textlink tests bench example_project

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest test-latest

# Everything but the end-to-end tests (the e2e marker: tests/e2e/ and the multi-process
# security replays), on Django 5.2 only: the quick loop while working. make test runs all.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e"

test-latest:
	@if [ -z "$(PYTHON_LATEST)" ]; then \
		echo "No Python 3.12+ found: skipping the Django 6.1 run (set PYTHON_LATEST=...)"; \
	else \
		set -e; \
		test -x $(VENV_LATEST)/bin/python || "$(PYTHON_LATEST)" -m venv $(VENV_LATEST); \
		$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade pip; \
		$(VENV_LATEST)/bin/python -m pip install --quiet -e ".[drf,test,example]" "$(DJANGO_LATEST)"; \
		$(VENV_LATEST)/bin/python -c 'import sys, django; print("Django", django.get_version(), "on Python", sys.version.split()[0])'; \
		$(LATEST_ENV) $(VENV_LATEST)/bin/pytest; \
	fi

# The whole suite on PostgreSQL (TEXTLINK_TEST_DB=postgres; see tests/settings.py), on both
# Django versions: Django 5.2 on the oldest supported Python (3.10), Django 6.1 on the newest. Not part of `make test`, which needs no server: it uses the one that
# PGHOST, PGPORT, PGUSER and PGPASSWORD name (Django creates and drops test_textlink there).
# .ci/run starts a throwaway cluster, reached over a Unix socket, and runs this after `make test`.
test-postgres: $(STAMP)
	@if [ -z "$$PGHOST" ]; then \
		echo "make test-postgres needs a PostgreSQL server: set PGHOST (and PGPORT, PGUSER,"; \
		echo "PGPASSWORD as needed). .ci/run starts a throwaway one."; \
		exit 1; \
	fi
	@if [ -n "$(PYTHON_OLDEST)" ]; then \
		set -e; \
		test -x $(VENV_OLDEST)/bin/python || "$(PYTHON_OLDEST)" -m venv $(VENV_OLDEST); \
		$(VENV_OLDEST)/bin/python -m pip install --quiet --upgrade pip; \
		$(VENV_OLDEST)/bin/python -m pip install --quiet -e ".[drf,test,example]" "Django>=5.2,<5.3"; \
		$(VENV_OLDEST)/bin/python -c 'import sys, django; print("Django", django.get_version(), "on Python", sys.version.split()[0])'; \
		TEXTLINK_TEST_DB=postgres $(VENV_OLDEST)/bin/pytest; \
	elif [ -n "$(REQUIRE_OLDEST)" ]; then \
		echo "No Python 3.10 found for the oldest-Python run (set PYTHON_OLDEST=...)"; exit 1; \
	else \
		echo "No Python 3.10 found: Django 5.2 runs on $(PYTHON) instead (set PYTHON_OLDEST=...)"; \
		TEXTLINK_TEST_DB=postgres $(BIN)/pytest; \
	fi
	@$(MAKE) --no-print-directory test-latest LATEST_ENV=TEXTLINK_TEST_DB=postgres

bench: $(STAMP)
	$(BIN)/python bench/client.py

# PostgreSQL when PGHOST is set, else a file SQLite database (see bench/webhooks.py).
bench-webhooks: $(STAMP)
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) $(VENV_LATEST) $(VENV_OLDEST) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
