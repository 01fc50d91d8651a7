# The two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test install install-dev migrate check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt packages/idempotency/pyproject.toml $(BIN)/python | system-deps
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

## system-deps: the C client library and pkg-config that mysqlclient (the
## MariaDB driver) builds against; installed with apt-get (as root) when missing.
.PHONY: system-deps
MYSQL_BUILD_DEBS := default-libmysqlclient-dev pkg-config build-essential python3-dev
system-deps:
	@pkg-config --exists mysqlclient 2>/dev/null || { \
	  echo "make: installing $(MYSQL_BUILD_DEBS) (to build mysqlclient)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $(MYSQL_BUILD_DEBS) >/dev/null; } || { \
	  echo "make: install $(MYSQL_BUILD_DEBS) (Debian names), then run make again" >&2; exit 1; }

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# migrate makes the cache table too (access/migrations); createcachetable first
# remakes a lost one, which migrate's checks would otherwise refuse (taos.E030).
migrate: install
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py migrate --noinput

## run: set up the embedded default (SQLite under var/) and serve with gunicorn;
## its master forks one task worker (deploy jobs, TAOS_DEPLOY_WORKERS), keeps it
## running and stops it when it stops (gunicorn.conf.py).
run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin
	exec $(BIN)/gunicorn -c gunicorn.conf.py

## worker: run one task worker alone (more workers, or workers on other hosts).
.PHONY: worker
worker: migrate
	exec $(BIN)/python manage.py db_worker

## test: run the test suite; honours DATABASE_URL and REDIS_URL.
# Production settings require SECRET_KEY and TOKENS_PEPPER with DATABASE_URL;
# tests get fixed test-only ones unless the caller sets their own. Tests clear
# their cache keys, so they use a prefix of their own.
test: install-dev
	SECRET_KEY="$${SECRET_KEY:-test-only-secret-key-not-for-production-0123456789}" \
	TOKENS_PEPPER="$${TOKENS_PEPPER:-test-only-tokens-pepper-not-for-production-0123}" \
	CACHE_KEY_PREFIX="$${TEST_CACHE_KEY_PREFIX:-taos-test}" \
	  $(BIN)/pytest $(PYTEST_ARGS)

check: install
	$(BIN)/python manage.py check

clean:
	rm -rf $(VENV) var

## bench: run the benchmark on PostgreSQL + Redis, SQLite and MariaDB + Redis (docs/bench.md).
# Flags go through BENCH_ARGS, e.g. make bench BENCH_ARGS="--smoke --engines sqlite".
.PHONY: bench
BENCH_ARGS ?=
$(VENV)/.installed-bench: requirements-bench.txt $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)
