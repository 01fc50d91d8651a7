# The two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test install install-dev migrate check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable

## run: set up the embedded default (SQLite under var/) and serve with gunicorn.
run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin
	exec $(BIN)/gunicorn -c gunicorn.conf.py

## test: run the test suite; honours DATABASE_URL and REDIS_URL.
# Production settings require SECRET_KEY with DATABASE_URL; tests get a fixed
# test-only one unless the caller sets their own.
test: install-dev
	SECRET_KEY="$${SECRET_KEY:-test-only-secret-key-not-for-production-0123456789}" \
	  $(BIN)/pytest $(PYTEST_ARGS)

check: install
	$(BIN)/python manage.py check

clean:
	rm -rf $(VENV) var

## bench: run the benchmark on PostgreSQL + Redis and on SQLite (docs/bench.md).
# Flags go through BENCH_ARGS, e.g. make bench BENCH_ARGS="--smoke --engines sqlite".
.PHONY: bench
BENCH_ARGS ?=
$(VENV)/.installed-bench: requirements-bench.txt $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)
