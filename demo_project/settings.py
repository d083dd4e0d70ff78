"""Settings of the demo site: SQLite, the local-memory cache, and three example hooks.

The hooks are the WAT examples in guest-examples/wat, built by `make guests`:
- `add-header` adds `X-Powered-By-Hook` and `X-Frame-Options` to every response;
- `api-key` answers 403 on /api/ unless the `X-Api-Key` header is `demo-key`;
- `hello` exports `greet`, which the /greet/ view calls with `wasmhooks.call`.

More modules can be uploaded and bound while it runs: in the admin (/admin/, user `admin`,
password `admin`, made by `make demo` for this local demo only), through the API under
/hooks-api/, or with the `wasmhooks_upload` command.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent
WASM_DIR = REPO_DIR / "guest-examples" / "wat" / "build"

SECRET_KEY = "demo-only-not-secret"  # a demo that serves localhost only
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo_project.urls"
WSGI_APPLICATION = "demo_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "wasmhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "wasmhooks.middleware.WasmHooksMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STATIC_URL = "static/"
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

WASMHOOKS_CACHE_DIR = BASE_DIR / ".wasm-cache"
WASMHOOKS_MODULES = {
    "add-header": str(WASM_DIR / "add-header.wasm"),
    "api-key": str(WASM_DIR / "api-key.wasm"),
    "hello": str(WASM_DIR / "hello.wasm"),
}
WASMHOOKS_BINDINGS = [
    {"module": "api-key", "pattern": r"^/api/", "config": "demo-key", "timeout_ms": 20, "order": 0},
    {"module": "add-header", "pattern": r"^/", "on_error": "continue", "order": 10},
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wasmhooks": {"handlers": ["console"], "level": "INFO"}},
}
