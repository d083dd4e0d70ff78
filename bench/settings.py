"""Minimal settings for the benchmarks: one view, only the middleware being measured."""

SECRET_KEY = "bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "wasmhooks"]
MIDDLEWARE = ["wasmhooks.middleware.WasmHooksMiddleware"]
# Stored modules and bindings live here; the benchmark migrates it at start.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WASMHOOKS_MODULES: dict[str, str] = {}
WASMHOOKS_BINDINGS: list[dict[str, object]] = []
# Each benchmark says where compiled modules go; none writes into the home folder.
WASMHOOKS_CACHE_DIR = None
