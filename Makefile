# Everything runs from a fresh clone with only Python 3.11+: `make install` builds .venv with uv
# and the web app (web/dist) with the Node of a PyPI wheel.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# Two pytest workers, a test file each at a time: the suites wait on PostgreSQL, Traefik and the
# service processes far more than they compute (one process kept the 2 cores at load ~1), so
# two halve the wall time. Each worker has its own PostgreSQL cluster and stacks.
PYTEST_WORKERS ?= -n 2 --dist loadfile
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install web browser run test test-faults test-fast bench up down lint fmt typecheck migrate backup restore clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml deploy/pyproject.toml \
		services/auth/pyproject.toml services/trading/pyproject.toml services/auction/pyproject.toml \
		services/web/pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced ## build the virtual environment (uv, locked versions) and the web app
	@$(PY) -m devstack.webapp build

web: install ## build the web app (web/dist) again, even when nothing changed
	$(PY) -m devstack.webapp build --force

# The browser tests drive Debian's chromium (tests/browser/conftest.py): installed when missing
# and root, else a clear message.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for tests/browser ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "tests/browser need Debian's chromium at /usr/bin/chromium: 'sudo apt-get install chromium'" \
			"(or run pytest --ignore=tests/browser)"; exit 1; \
	fi

run: install ## start PostgreSQL, the three services, the web app and Traefik on http://127.0.0.1:8080
	$(PY) -m devstack.launcher

test: install lint typecheck browser ## lint, typecheck and run every test (real PostgreSQL, real Traefik, Chromium)
	$(VENV)/bin/pytest $(PYTEST_WORKERS)
	@echo "== the trading and auction API suites again, through the real gateway and processes =="
	THROUGH_GATEWAY=1 $(VENV)/bin/pytest $(PYTEST_WORKERS) services/trading/tests services/auction/tests

test-faults: install ## faults under load, with figures: PostgreSQL restart, auth down a minute, key rotation (~2 min)
	$(VENV)/bin/pytest -m faults -s --timeout=600 tests/faults

test-fast: install browser ## run the tests without lint and typecheck
	$(VENV)/bin/pytest -x

bench: install ## run the benchmarks and print a table of ratios
	$(PY) -m devstack.bench

up: ## docker compose up --build (needs a Docker engine; set ADMIN_PASSWORD)
	docker compose up --build

down: ## docker compose down
	docker compose down

lint: install ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check shared deploy services tests || \
		{ echo "run 'make fmt'"; exit 1; }

fmt: install ## format the code
	$(VENV)/bin/ruff format shared deploy services tests
	$(VENV)/bin/ruff check --fix .

typecheck: install ## mypy over the library, the services and the launcher; tsc over web/src
	$(VENV)/bin/mypy shared/servicekit deploy/devstack services/auth/auth_service \
		services/trading/trading_service services/auction/auction_service services/web/web_service
	$(PY) -m devstack.webapp check

migrate: install ## apply migrations to the databases named by *_DATABASE_URL
	$(PY) -m devstack.migrate

backup: install ## dump the embedded stack's databases into .data/backups/<UTC time>/
	$(PY) -m devstack.backup backup

restore: install ## restore the latest backup (BACKUP=<folder> for another; FORCE=1 while running)
	$(PY) -m devstack.backup restore $(BACKUP) $(if $(FORCE),--force)

clean: ## remove the environments and the web build (keeps .data)
	rm -rf $(VENV) $(TOOLS) web/node_modules web/dist web/.npm-cache
