"""Settings for `gunicorn_wrk.py`'s servers: the benchmark settings plus one variant.

`BENCH_SERVER_VARIANT` picks what runs around the minimal view: `none` (no middleware),
`python` (the Python middleware), `wasm` (the typical hook, warm instance) or `wasm-fresh`
(the same with `isolate: True`). The hook's path, the SQLite file (already migrated) and the
compiled-module cache come from the environment, since the benchmark makes them at run time.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from bench.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DATABASE"]}}
WASMHOOKS_CACHE_DIR = os.environ["BENCH_CACHE_DIR"]
WASMHOOKS_MODULES = {"hook": os.environ["BENCH_HOOK_MODULE"]}
LOGGING = {"version": 1, "disable_existing_loggers": False}

VARIANT = os.environ.get("BENCH_SERVER_VARIANT", "none")
_MIDDLEWARE = {
    "none": [],
    "python": ["bench.middleware.PythonHeaderMiddleware"],
    "wasm": ["wasmhooks.middleware.WasmHooksMiddleware"],
    "wasm-fresh": ["wasmhooks.middleware.WasmHooksMiddleware"],
}
if VARIANT not in _MIDDLEWARE:
    raise ImproperlyConfigured(f"BENCH_SERVER_VARIANT: unknown variant {VARIANT!r}")
MIDDLEWARE = _MIDDLEWARE[VARIANT]
if VARIANT.startswith("wasm"):
    WASMHOOKS_BINDINGS = [{"module": "hook", "pattern": "^/bench/", "isolate": VARIANT == "wasm-fresh"}]
