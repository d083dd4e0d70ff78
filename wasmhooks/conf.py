"""The only reader of wasmhooks' settings.

Each setting is read once and kept until Django's `setting_changed` signal says it changed,
so `override_settings` works in tests while a request pays a dict lookup, not the failed
attribute lookup that an unset setting costs. What is expensive to build from them (the route
table, the compiled modules) is cached elsewhere and dropped on the same signal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULT_TIMEOUT_MS = 50
DEFAULT_MEMORY_MB = 32
DEFAULT_KV_CACHE = "default"
DEFAULT_MAX_MODULE_BYTES = 10 * 1024 * 1024
DEFAULT_RELOAD_INTERVAL = 1.0
DEFAULT_API_PERMISSION_CLASSES = ("wasmhooks.api.permissions.ModelPermissions",)


_UNSET = object()


def default_cache_dir() -> Path | None:
    """The folder for compiled modules when `WASMHOOKS_CACHE_DIR` is unset: the user's cache
    folder, `$XDG_CACHE_HOME/wasmhooks` or else `~/.cache/wasmhooks`; None when the user has
    no home folder.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative, which the XDG spec says to ignore
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no $HOME and no entry in the user database
            return None
    return Path(base) / "wasmhooks"


class WasmHooksSettings:
    """Typed access to the `WASMHOOKS_*` settings, with their defaults."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def _read(self, name: str, default: Any) -> Any:
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = getattr(settings, name, default)
            return value

    def forget(self, **kwargs: Any) -> None:
        """Drop every value read so far (connected to `setting_changed`)."""
        self._values = {}

    @property
    def MODULES(self) -> Any:
        """`{"name": "path/to/module.wasm"}`: modules defined in settings."""
        return self._read("WASMHOOKS_MODULES", {})

    @property
    def BINDINGS(self) -> Any:
        """A list of binding dicts: which module runs on which paths, under what limits."""
        return self._read("WASMHOOKS_BINDINGS", [])

    @property
    def TIMEOUT_MS(self) -> Any:
        return self._read("WASMHOOKS_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)

    @property
    def MEMORY_MB(self) -> Any:
        return self._read("WASMHOOKS_MEMORY_MB", DEFAULT_MEMORY_MB)

    @property
    def FUEL(self) -> Any:
        """Default instruction budget per call; None for none."""
        return self._read("WASMHOOKS_FUEL", None)

    @property
    def CACHE_DIR(self) -> Any:
        """Folder for signed compiled modules; None keeps them in memory only. Unset, it is
        `default_cache_dir()`."""
        value = self._read("WASMHOOKS_CACHE_DIR", _UNSET)
        return default_cache_dir() if value is _UNSET else value

    @property
    def cache_dir_unset(self) -> bool:
        """Whether `WASMHOOKS_CACHE_DIR` is left out of the settings (not even None)."""
        return self._read("WASMHOOKS_CACHE_DIR", _UNSET) is _UNSET

    @property
    def KV_CACHE(self) -> Any:
        """Alias of the Django cache that backs the guests' key-value store."""
        return self._read("WASMHOOKS_KV_CACHE", DEFAULT_KV_CACHE)

    @property
    def MAX_MODULE_BYTES(self) -> Any:
        """The largest module an upload may be, in bytes."""
        return self._read("WASMHOOKS_MAX_MODULE_BYTES", DEFAULT_MAX_MODULE_BYTES)

    @property
    def RELOAD_INTERVAL(self) -> Any:
        """Seconds between two looks at the database for changed modules and bindings."""
        return self._read("WASMHOOKS_RELOAD_INTERVAL", DEFAULT_RELOAD_INTERVAL)

    @property
    def API_PERMISSION_CLASSES(self) -> Any:
        """Dotted paths of the DRF permission classes guarding `wasmhooks.api`."""
        return self._read("WASMHOOKS_API_PERMISSION_CLASSES", DEFAULT_API_PERMISSION_CLASSES)

    @property
    def SECRET_KEY(self) -> str:
        return str(settings.SECRET_KEY)


conf = WasmHooksSettings()
setting_changed.connect(conf.forget, dispatch_uid="wasmhooks.conf.forget")

# Settings whose change invalidates what was built from them.
WATCHED_SETTINGS = frozenset(
    {
        "WASMHOOKS_MODULES",
        "WASMHOOKS_BINDINGS",
        "WASMHOOKS_TIMEOUT_MS",
        "WASMHOOKS_MEMORY_MB",
        "WASMHOOKS_FUEL",
        "WASMHOOKS_CACHE_DIR",
        "WASMHOOKS_KV_CACHE",
        "WASMHOOKS_RELOAD_INTERVAL",
        "SECRET_KEY",
    }
)
