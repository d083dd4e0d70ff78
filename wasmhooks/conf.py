"""The only reader of wasmhooks' settings.

Settings are read live on every access, so `override_settings` works in tests. What is
expensive to build from them (the route table, the compiled modules) is cached elsewhere and
dropped on Django's `setting_changed` signal.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULT_TIMEOUT_MS = 50
DEFAULT_MEMORY_MB = 32
DEFAULT_KV_CACHE = "default"
DEFAULT_MAX_MODULE_BYTES = 10 * 1024 * 1024
DEFAULT_RELOAD_INTERVAL = 1.0
DEFAULT_API_PERMISSION_CLASSES = ("wasmhooks.api.permissions.ModelPermissions",)


class WasmHooksSettings:
    """Typed access to the `WASMHOOKS_*` settings, with their defaults."""

    @property
    def MODULES(self) -> Any:
        """`{"name": "path/to/module.wasm"}`: modules defined in settings."""
        return getattr(settings, "WASMHOOKS_MODULES", {})

    @property
    def BINDINGS(self) -> Any:
        """A list of binding dicts: which module runs on which paths, under what limits."""
        return getattr(settings, "WASMHOOKS_BINDINGS", [])

    @property
    def TIMEOUT_MS(self) -> Any:
        return getattr(settings, "WASMHOOKS_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)

    @property
    def MEMORY_MB(self) -> Any:
        return getattr(settings, "WASMHOOKS_MEMORY_MB", DEFAULT_MEMORY_MB)

    @property
    def FUEL(self) -> Any:
        """Default instruction budget per call; None for none."""
        return getattr(settings, "WASMHOOKS_FUEL", None)

    @property
    def CACHE_DIR(self) -> Any:
        """Folder for signed compiled modules; None keeps them in memory only."""
        return getattr(settings, "WASMHOOKS_CACHE_DIR", None)

    @property
    def KV_CACHE(self) -> Any:
        """Alias of the Django cache that backs the guests' key-value store."""
        return getattr(settings, "WASMHOOKS_KV_CACHE", DEFAULT_KV_CACHE)

    @property
    def MAX_MODULE_BYTES(self) -> Any:
        """The largest module an upload may be, in bytes."""
        return getattr(settings, "WASMHOOKS_MAX_MODULE_BYTES", DEFAULT_MAX_MODULE_BYTES)

    @property
    def RELOAD_INTERVAL(self) -> Any:
        """Seconds between two looks at the database for changed modules and bindings."""
        return getattr(settings, "WASMHOOKS_RELOAD_INTERVAL", DEFAULT_RELOAD_INTERVAL)

    @property
    def API_PERMISSION_CLASSES(self) -> Any:
        """Dotted paths of the DRF permission classes guarding `wasmhooks.api`."""
        return getattr(settings, "WASMHOOKS_API_PERMISSION_CLASSES", DEFAULT_API_PERMISSION_CLASSES)

    @property
    def SECRET_KEY(self) -> str:
        return str(settings.SECRET_KEY)


conf = WasmHooksSettings()

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
