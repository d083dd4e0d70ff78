"""The test settings on a SQLite file named by `WASMHOOKS_COMMAND_DB`, so commands run in a
subprocess share one database (tests/test_commands.py)."""

import os

from tests.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["WASMHOOKS_COMMAND_DB"]}}
