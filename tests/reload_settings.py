"""Settings for the reload tests' real servers and the driver process that changes their hooks.

Driven by the environment, so every process of one test run shares one database and one cache:
- `WASMHOOKS_RELOAD_SQLITE`: path of a SQLite file, or else
  `WASMHOOKS_RELOAD_POSTGRES`: name of a PostgreSQL database on 127.0.0.1:5432;
- `WASMHOOKS_RELOAD_REDIS`: a Redis URL for the default cache (else the local-memory cache);
- `WASMHOOKS_RELOAD_CACHE_DIR`: the compiled-module folder;
- `WASMHOOKS_RELOAD_INTERVAL`: seconds between two looks at the database (default: the app's).
"""

import os

SECRET_KEY = "wasmhooks-reload-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "tests.reload_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "wasmhooks"]
MIDDLEWARE = ["wasmhooks.middleware.WasmHooksMiddleware"]

if "WASMHOOKS_RELOAD_SQLITE" in os.environ:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["WASMHOOKS_RELOAD_SQLITE"]}
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["WASMHOOKS_RELOAD_POSTGRES"],
            "HOST": "127.0.0.1",
            "PORT": 5432,
            "USER": os.environ.get("PGUSER", "postgres"),
        }
    }

REDIS_URL = os.environ.get("WASMHOOKS_RELOAD_REDIS")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

WASMHOOKS_CACHE_DIR = os.environ["WASMHOOKS_RELOAD_CACHE_DIR"]
if "WASMHOOKS_RELOAD_INTERVAL" in os.environ:
    WASMHOOKS_RELOAD_INTERVAL = float(os.environ["WASMHOOKS_RELOAD_INTERVAL"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wasmhooks": {"handlers": ["console"], "level": "INFO"}},
}
