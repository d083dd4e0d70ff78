"""The exceptions every guest failure is mapped to.

Nothing from wasmtime escapes the runtime: a trap, a timeout, a memory failure or a broken
module always reaches callers as one of these, so the layers above can catch `HookError`.
"""

from __future__ import annotations


class HookError(Exception):
    """A guest failed. `kind` names the failure for logs and counters."""

    kind = "error"

    def __init__(self, message: str, *, module: str = "", function: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.module = module
        self.function = function

    def __str__(self) -> str:
        where = ".".join(part for part in (self.module, self.function) if part)
        return f"{where}: {self.message}" if where else self.message


class HookTimeout(HookError):
    """The guest ran past its wall-clock deadline."""

    kind = "timeout"


class HookFuelExhausted(HookTimeout):
    """The guest used up its instruction budget (fuel)."""

    kind = "fuel"


class HookTrap(HookError):
    """The guest trapped (unreachable, division by zero, bad memory access, non-zero exit...)."""

    kind = "trap"


class HookMemoryExceeded(HookError):
    """The guest needs more linear memory than its cap allows."""

    kind = "memory"


class HookABIError(HookError):
    """The guest broke the host ABI: bad pointer, bad return value, missing export..."""

    kind = "abi"


class HookHostError(HookError):
    """A host function failed for a reason outside the guest (a cache backend down, say)."""

    kind = "host"


class ModuleInvalid(HookError):
    """The bytes are not a usable module: not Wasm, does not compile, or lacks the ABI marker."""

    kind = "invalid"
