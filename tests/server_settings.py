"""The demo site's settings plus a looping hook on /spin/, for the real-server tests.

The looping module's path comes from the environment (`WASMHOOKS_TEST_SPIN_MODULE`), since
the test builds it at run time.
"""

import os

from demo_project.settings import *  # noqa: F403
from demo_project.settings import WASMHOOKS_BINDINGS, WASMHOOKS_MODULES

WASMHOOKS_CACHE_DIR = os.environ["WASMHOOKS_TEST_CACHE_DIR"]
WASMHOOKS_MODULES = {**WASMHOOKS_MODULES, "spin": os.environ["WASMHOOKS_TEST_SPIN_MODULE"]}
WASMHOOKS_BINDINGS = [
    {"module": "spin", "pattern": r"^/spin/", "timeout_ms": 30, "order": -1},
    *WASMHOOKS_BINDINGS,
]
LOGGING = {"version": 1, "disable_existing_loggers": False}
