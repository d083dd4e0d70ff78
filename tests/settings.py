"""Settings for the test suite.

SQLite and the local-memory cache by default; `WASMHOOKS_TEST_SERVICES=1` switches the
database to PostgreSQL and the default cache to Redis (both on 127.0.0.1). A Redis cache
under the alias "redis" is always there, so the key-value tests run on a real shared store.
"""

import os

SECRET_KEY = "wasmhooks-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "drf_spectacular",
    "wasmhooks",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "wasmhooks.middleware.WasmHooksMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

REDIS_URL = os.environ.get("WASMHOOKS_TEST_REDIS", "redis://127.0.0.1:6379/15")
SERVICES = os.environ.get("WASMHOOKS_TEST_SERVICES") == "1"

if SERVICES:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "test",
            "HOST": "127.0.0.1",
            "PORT": 5432,
            "USER": os.environ.get("PGUSER", "postgres"),
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if SERVICES
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    # Keeps nothing: the key-value store's behaviour when a cache loses what it was given.
    "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}

WASMHOOKS_MODULES: dict[str, str] = {}
WASMHOOKS_BINDINGS: list[dict[str, object]] = []
# Compiled modules in memory only: unset, they would go to the user's cache folder. Tests of
# the disk cache set a temporary folder.
WASMHOOKS_CACHE_DIR = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"wasmhooks": {"handlers": ["null"], "level": "DEBUG", "propagate": True}},
}

# Fast hashing for the users the admin and API tests create (never for real passwords).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
