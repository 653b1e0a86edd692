# One task runner for people and CI. `make demo` runs the product; `make test` checks it all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

# Development and test runs use generated secrets in var/; production sets its own.
export SAFEROOM_DEBUG ?= 1

.PHONY: install lock audit-deps demo demo-reset serve test lint typecheck migrations-check test-sqlite test-postgres bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Exactly the locked files (hash-checked, pip and setuptools included), then saferoom itself
# with nothing more, then a check that every requirement is met.
$(STAMP): pyproject.toml requirements/constraints.txt requirements/hashes.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/hashes.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e '.[dev]'
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## lock: pin the versions now installed (after a change to pyproject.toml, install the new
## package into .venv first) for every machine, with the hash of every file (needs PyPI).
lock:
	$(BIN)/python -m pip freeze --all --exclude-editable | sed -n '/^[A-Za-z0-9]/p' | grep -v '^wheel==' > requirements/.pins
	{ sed -n '/^#/p' requirements/constraints.txt; cat requirements/.pins; } > requirements/constraints.txt.new
	mv requirements/constraints.txt.new requirements/constraints.txt && rm requirements/.pins
	$(BIN)/python requirements/hashes.py

## audit-deps: check the pinned versions against known vulnerabilities (needs the internet:
## pip-audit asks PyPI's vulnerability data). Not part of `make test`, which runs offline.
audit-deps: install
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/pip-audit --strict --disable-pip --require-hashes --requirement requirements/hashes.txt

## demo: set everything up (venv, database, demo network, one account per role) and serve.
demo: install
	$(BIN)/saferoom migrate --noinput
	$(BIN)/saferoom demo --history=background --url http://$(HOST):$(PORT)
	$(BIN)/saferoom runserver $(HOST):$(PORT)

## demo-reset: throw the demo database away (history, accounts) to start again.
demo-reset:
	rm -f var/saferoom.sqlite3 var/saferoom.sqlite3-wal var/saferoom.sqlite3-shm var/demo-history.*

serve: install
	$(BIN)/saferoom runserver $(HOST):$(PORT)

## test: lint, types, migrations, then the whole suite on SQLite, PostgreSQL and Chromium.
test: install lint typecheck migrations-check test-sqlite test-postgres

lint: install
	$(BIN)/ruff check saferoom tests bench
	$(BIN)/ruff format --check saferoom tests bench

typecheck: install
	$(BIN)/mypy saferoom tests bench

migrations-check: install
	$(BIN)/saferoom makemigrations --check --dry-run

test-sqlite: install
	$(BIN)/pytest

test-postgres: install
	@if [ -n "$$SAFEROOM_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL: $$SAFEROOM_TEST_DATABASE_URL"; \
		SAFEROOM_DATABASE_URL="$$SAFEROOM_TEST_DATABASE_URL" $(BIN)/pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "!! CI=true but SAFEROOM_TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI." >&2; \
		exit 1; \
	else \
		echo ""; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!! SKIPPED the PostgreSQL half of the suite: SAFEROOM_TEST_DATABASE_URL is not set."; \
		echo "!! e.g. SAFEROOM_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make test"; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/saferoom.sqlite3* var/static
