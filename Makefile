# Two commands do everything on a fresh machine:
#   make run   - the embedded demo (SQLite, in-process tasks) on http://127.0.0.1:8000
#   make test  - lint, type check and the whole suite against a throwaway PostgreSQL and Redis
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# A Python >= 3.12: on PATH, or through pyenv (whose shim answers only for a named version).
define find_python
for candidate in python3.13 python3.12 python3; do \
  if command -v $$candidate >/dev/null 2>&1 && $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
    echo "$$candidate"; exit 0; fi; \
done; \
if command -v pyenv >/dev/null 2>&1; then \
  version=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.[0-9]+)?$$' | sort -V | head -n 1); \
  if [ -n "$$version" ]; then echo "env PYENV_VERSION=$$version python$${version%.*}"; exit 0; fi; \
fi; \
exit 1
endef

.PHONY: help venv run test lint format bench-award bench-dsl bench-sink bench-backtest bench-leaderboard clean

help:
	@echo "make run    serve the demo on http://$(HOST):$(PORT) (SQLite, tasks in-process)"
	@echo "make test   ruff, mypy + the whole test suite against throwaway PostgreSQL and Redis"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@python=$$($(find_python)) || { echo "error: Python 3.12 or newer is required (not found on PATH or in pyenv)" >&2; exit 1; }; \
	if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$python"; $$python -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

run: venv
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py seed_demo
	@echo "Admin: http://$(HOST):$(PORT)/admin/   API docs: http://$(HOST):$(PORT)/api/docs/"
	DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true DATABASE_URL= $(VENV)/bin/mypy
	DEBUG=true DATABASE_URL= $(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: venv
	.ci/system-packages
	$(MAKE) --no-print-directory lint
	.ci/with-services $(PY) -m pytest -m "not perf" $(PYTEST_ARGS)
	@echo "The award path and the strategy reads once more on SQLite, the embedded demo's database:"
	DATABASE_URL= $(PY) -m pytest -q tests/scoring/test_award_api.py tests/scoring/test_builtins.py \
		tests/strategies/test_selectors.py tests/gamification/test_leaderboards.py \
		tests/gamification/test_leaderboards_rebuild.py -k "not concurrent"

bench-award: venv
	SERVICES_DURABLE=1 .ci/with-services $(PY) bench/award.py $(BENCH_ARGS)

bench-leaderboard: venv
	.ci/with-services $(PY) bench/leaderboard.py $(BENCH_ARGS)

bench-dsl: venv
	$(PY) bench/dsl.py $(BENCH_ARGS)

bench-backtest: venv
	.ci/with-services $(PY) bench/backtest.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 .demo-api-key staticfiles

bench-sink: venv
	.ci/with-services $(PY) -m pytest -q -m perf tests/observability/test_sink.py
	.ci/with-services $(PY) bench/sink.py $(BENCH_ARGS)
