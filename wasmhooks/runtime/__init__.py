"""The wasmtime layer: engine, compiled-module cache, instances with limits, our exceptions.

Imports nothing from Django, so it can be used, and tested, on its own.
"""

from .compiled import CompiledModule, FunctionSignature, ModuleCache
from .engine import get_engine
from .errors import (
    HookABIError,
    HookError,
    HookFuelExhausted,
    HookHostError,
    HookMemoryExceeded,
    HookTimeout,
    HookTrap,
    ModuleInvalid,
)
from .frame import CallFrame, GuestFault, current_frame
from .host import WasmHost
from .instance import GuestInstance, Limits
from .lowlevel import HostFunction

__all__ = [
    "CallFrame",
    "CompiledModule",
    "FunctionSignature",
    "GuestFault",
    "GuestInstance",
    "HookABIError",
    "HookError",
    "HookFuelExhausted",
    "HookHostError",
    "HookMemoryExceeded",
    "HookTimeout",
    "HookTrap",
    "HostFunction",
    "Limits",
    "ModuleCache",
    "ModuleInvalid",
    "WasmHost",
    "current_frame",
    "get_engine",
]
