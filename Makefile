# Daily commands. `make run` (quickstart: an embedded PostgreSQL, eager Celery) and `make test` (PostgreSQL + Redis on
# localhost).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chargepay
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8099

.PHONY: lock audit compose-check layers run webhook-listen pg-start pg-stop test install install-dev lint format check clean sandbox worker beat bench-reconcile bench-admin bench-dashboard bench bench-ledger-size bench-ledger bench-profile

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# The embedded PostgreSQL (data in .data/postgres) starts before migrate and stops with the dev server; a DATABASE_URL
# set in the shell wins, and then no server is started. The shell's Redis and DEBUG settings are ignored (eager Celery).
run: install
	BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) exec ./scripts/quickstart.sh

# The embedded PostgreSQL alone (manage.py finds it with no settings): start prints its DATABASE_URL.
pg-start: install
	$(BIN)/python -m scripts.dev_postgres start

pg-stop: install
	$(BIN)/python -m scripts.dev_postgres stop

sandbox: install
	$(BIN)/python manage.py run_gateway_sandbox --host 127.0.0.1 --port $(SANDBOX_PORT)

worker: install
	$(BIN)/celery -A chargepay worker --loglevel INFO

webhook-listen: install
	$(BIN)/python manage.py webhook_listen --port 8098

beat: install
	$(BIN)/celery -A chargepay beat --loglevel INFO

test: install-dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} DEBUG=false \
		SECRET_KEY=test-secret-key-not-for-production JWT_SIGNING_KEY=test-jwt-signing-key-not-for-production \
		SECURE_SSL_REDIRECT=false $(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m scripts.check_layers

# The import rule: no package imports one above it (core < accounts < ledger < gateways < reconciliation < backoffice).
layers: install
	$(BIN)/python -m scripts.check_layers

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# makemigrations reads the migration history from the database: make test's, as in CI.
check: install-dev
	$(BIN)/python manage.py check
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/python manage.py makemigrations --check --dry-run

bench-reconcile: install-dev
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'chargepay_bench'" | grep -q 1 || \
		createdb -h 127.0.0.1 -U postgres chargepay_bench
	DEBUG=false SECRET_KEY=bench-secret JWT_SIGNING_KEY=bench-jwt SECURE_SSL_REDIRECT=false $(BIN)/python bench/reconcile_ledger.py

bench-admin: install-dev
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'chargepay_bench_admin'" | grep -q 1 || \
		createdb -h 127.0.0.1 -U postgres chargepay_bench_admin
	DEBUG=false SECRET_KEY=bench-secret JWT_SIGNING_KEY=bench-jwt SECURE_SSL_REDIRECT=false $(BIN)/python bench/admin_changelist.py

bench-dashboard: install-dev
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'chargepay_bench_admin'" | grep -q 1 || \
		createdb -h 127.0.0.1 -U postgres chargepay_bench_admin
	DEBUG=false SECRET_KEY=bench-secret JWT_SIGNING_KEY=bench-jwt SECURE_SSL_REDIRECT=false $(BIN)/python bench/dashboard.py

# Benchmarks (README "Benchmarks"; results in bench/RESULTS.md). They need PostgreSQL and Redis on localhost and wrk
# (apt-get install -y wrk); each recreates its own chargepay_bench_* database.
bench: install-dev
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/api_load.py --results bench/results/api.md --command "make bench" $(BENCH_ARGS)
	@echo "Also: make bench-ledger-size (10 000 vs 10 000 000 entries, loads for minutes), make bench-ledger (in-process)."

bench-profile: install-dev
	$(BIN)/python bench/api_load.py --rows pay --runs 1 --concurrency 16 --profile $(BENCH_ARGS)

bench-ledger-size: install-dev
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/ledger_size.py --results bench/results/ledger-size.md $(BENCH_ARGS)

bench-ledger: install-dev
	$(BIN)/python bench/ledger_service.py --results bench/results/ledger-service.md $(BENCH_ARGS)

# requirements.in / requirements-dev.in (direct dependencies) → requirements.txt / requirements-dev.txt (every
# package pinned), with pip-tools. Run after adding or bumping a dependency in a .in file; commit all four files.
PIP_COMPILE_FLAGS := --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links
lock: install-dev
	$(BIN)/pip-compile $(PIP_COMPILE_FLAGS) -o requirements.txt requirements.in
	$(BIN)/pip-compile $(PIP_COMPILE_FLAGS) -o requirements-dev.txt requirements-dev.in

# Known vulnerabilities in the pinned packages (pip-audit; exit 1: vulnerable, 3: could not audit, see scripts/audit.py).
audit: install-dev
	$(BIN)/python -m scripts.audit

# docker-compose.yml validated by Compose (no engine needed), with a .env made from .env.example.
compose-check: install-dev
	$(BIN)/pytest -q -p no:cacheprovider monitoring/tests/test_compose.py

# Also deletes the embedded PostgreSQL's data (the demo data: make run loads it again).
clean:
	[ ! -x $(BIN)/python ] || $(BIN)/python -m scripts.dev_postgres stop
	rm -rf $(VENV) .data staticfiles
