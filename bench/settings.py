"""Minimal settings for the benchmarks: one view, only the middleware being measured."""

SECRET_KEY = "bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
INSTALLED_APPS = ["wasmhooks"]
MIDDLEWARE = ["wasmhooks.middleware.WasmHooksMiddleware"]
DATABASES: dict[str, object] = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WASMHOOKS_MODULES: dict[str, str] = {}
WASMHOOKS_BINDINGS: list[dict[str, object]] = []
