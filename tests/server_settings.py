"""The demo site's settings plus a looping hook on /spin/, for the real-server tests.

The looping module's path, the compiled-module cache and the SQLite database file come from
the environment, since the test makes them at run time.
"""

import os

from demo_project.settings import *  # noqa: F403
from demo_project.settings import WASMHOOKS_BINDINGS, WASMHOOKS_MODULES

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["WASMHOOKS_TEST_DATABASE"]}
}
WASMHOOKS_CACHE_DIR = os.environ["WASMHOOKS_TEST_CACHE_DIR"]
WASMHOOKS_MODULES = {**WASMHOOKS_MODULES, "spin": os.environ["WASMHOOKS_TEST_SPIN_MODULE"]}
WASMHOOKS_BINDINGS = [
    {"module": "spin", "pattern": r"^/spin/", "timeout_ms": 30, "order": -1},
    *WASMHOOKS_BINDINGS,
]
LOGGING = {"version": 1, "disable_existing_loggers": False}
