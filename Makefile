# `make demo` and `make test` do all set-up on a fresh machine (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_ADDR ?= 127.0.0.1:8000

WAT_SOURCES := $(wildcard guest-examples/wat/*.wat)
WAT_MODULES := $(patsubst guest-examples/wat/%.wat,guest-examples/wat/build/%.wasm,$(WAT_SOURCES))

WHEEL_DIR := build/wheel-test

.PHONY: install guests guests-assemblyscript guests-c guests-zig guests-rust demo test lint typecheck pytest test-wheel test-services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

guest-examples/wat/build/%.wasm: guest-examples/wat/%.wat $(STAMP)
	$(PY) guest-examples/build_wat.py $< $@

# Rust examples need Debian's rustc and its wasm32 std (libstd-rust-dev-wasm32); .ci/run installs them.
RUST_WASM_STD := /usr/lib/rustlib/wasm32-unknown-unknown

guests: $(WAT_MODULES) guests-assemblyscript guests-c guests-zig guests-rust

guests-assemblyscript: $(STAMP)
	guest-examples/assemblyscript/build.sh

guests-c: $(STAMP)
	PYTHON=$(PY) guest-examples/c/build.sh

guests-zig: $(STAMP)
	PYTHON=$(PY) guest-examples/zig/build.sh

guests-rust:
	@if [ -d $(RUST_WASM_STD) ] && [ -x /usr/bin/rustc ]; then guest-examples/rust/build.sh; \
	else echo "skipping the Rust examples: no Debian rustc with the wasm32 std (apt-get install rustc libstd-rust-dev-wasm32)"; fi

demo: install guests
	$(PY) manage.py migrate --noinput
	$(PY) manage.py check --database default
	$(PY) manage.py shell -c "$$DEMO_ADMIN"
	$(PY) manage.py runserver $(DEMO_ADDR)

# A local-only admin account for the demo site: user admin, password admin.
define DEMO_ADMIN
from django.contrib.auth.models import User
User.objects.filter(username='admin').exists() or User.objects.create_superuser('admin', 'admin@localhost', 'admin')
endef
export DEMO_ADMIN

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install guests
	$(PY) -m pytest --cov --cov-report=term-missing:skip-covered --cov-fail-under=95

test: lint typecheck pytest

# PostgreSQL (127.0.0.1:5432, database "test") and Redis (127.0.0.1:6379) instead of
# SQLite and the local-memory cache.
test-services: install guests
	WASMHOOKS_TEST_SERVICES=1 $(PY) -m pytest -q

# Build the wheel, install it (not editable) in its own virtualenv, and run the suite
# against it from a folder without the source tree, so a file missing from the package fails.
test-wheel: install guests
	rm -rf $(WHEEL_DIR)
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir $(WHEEL_DIR)/dist .
	$(PYTHON) -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/pip install --quiet "$$(ls $(WHEEL_DIR)/dist/*.whl)[test]"
	mkdir -p $(WHEEL_DIR)/run
	cp -r tests bench guest-examples demo_project manage.py pyproject.toml $(WHEEL_DIR)/run/
	rm -rf $(WHEEL_DIR)/run/demo_project/db.sqlite3 $(WHEEL_DIR)/run/guest-examples/assemblyscript/node_modules
	cd $(WHEEL_DIR)/run && ./../venv/bin/python -c "import wasmhooks, sys; \
		assert 'site-packages' in wasmhooks.__file__, wasmhooks.__file__; print('testing', wasmhooks.__file__)"
	cd $(WHEEL_DIR)/run && ./../venv/bin/python -m pytest -q -p no:cacheprovider

# The benchmarks of bench/: figures and ratios against baselines measured in the same run,
# printed, never asserted. BENCH_QUICK=1 runs tiny counts. gunicorn_wrk.py needs Debian's wrk.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
	$(PY) bench/overhead.py
	$(PY) bench/call_vs_extism.py
	$(PY) bench/memory.py
	$(PY) bench/gunicorn_wrk.py
	@if [ -f bench/cold_start.py ]; then $(PY) bench/cold_start.py; fi

clean:
	rm -rf $(VENV) build dist *.egg-info guest-examples/*/build guest-examples/assemblyscript/node_modules demo_project/db.sqlite3 demo_project/.wasm-cache
