# Roster's developer commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test check bench bench-quick install dev browser lock clean

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

# Segment's analytics-python pins backoff==1.10.0, which Customer.io's Data Pipelines client
# (backoff~=2.2) cannot share; it runs on 2.2 unchanged, so it goes in without its pins.
SEGMENT_CLIENT := analytics-python==1.4.post1

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.lock
	$(PIP) install -r requirements-dev.lock
	$(PIP) install --no-deps $(SEGMENT_CLIENT)
	touch $@

# The browser tests drive Debian's Chromium (never one downloaded at run time).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

install: $(VENV)/.installed  ## runtime dependencies only

dev: $(VENV)/.dev-installed  ## runtime and development dependencies

run: install  ## start Roster on the embedded SQLite store (./roster.db)
	$(VENV)/bin/roster serve

browser: $(CHROMIUM)  ## Debian's Chromium, for the browser tests

test: dev browser  ## the whole suite, on SQLite and PostgreSQL
	$(PY) -m pytest -n 2

check: dev  ## format, lint, types, import layers
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: dev  ## the full benchmark; writes bench/results.json, results-backfill.json and results-fleet.json
	$(PY) -m bench --full --stages transition,migration,load --out bench/results.json
	$(PY) -m bench --full --stages backfill --reps 3 --out bench/results-backfill.json
	$(PY) -m bench.fleet --full --reps 2 --out bench/results-fleet.json

bench-quick: dev  ## a 1-2 minute run, for its correctness cross-check
	$(PY) -m bench --quick --out bench/quick.json

lock:  ## re-resolve the lock files from pyproject.toml
	$(PY) -m piptools compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	$(PY) -m piptools compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
