"""wasmhooks: run WebAssembly modules as per-request hooks in Django.

`wasmhooks.call`, `wasmhooks.acall` and `wasmhooks.hook` are for view code; the exceptions
come from `wasmhooks.runtime`, which imports nothing from Django. The Django-facing names
are loaded lazily so that `import wasmhooks.runtime` stays free of Django.
"""

from __future__ import annotations

from typing import Any

from wasmhooks.runtime.errors import (
    HookABIError,
    HookError,
    HookFuelExhausted,
    HookHostError,
    HookMemoryExceeded,
    HookTimeout,
    HookTrap,
    ModuleInvalid,
)

__version__ = "0.1.0"

_LAZY = {
    "call": "wasmhooks.calls",
    "acall": "wasmhooks.calls",
    "hook": "wasmhooks.calls",
    "ModuleNotFound": "wasmhooks.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wasmhooks' has no attribute {name!r}")


__all__ = [
    "HookABIError",
    "HookError",
    "HookFuelExhausted",
    "HookHostError",
    "HookMemoryExceeded",
    "HookTimeout",
    "HookTrap",
    "ModuleInvalid",
    "ModuleNotFound",
    "acall",
    "call",
    "hook",
]
