"""A guest instance: one Store, one instantiated module, and the limits it runs under."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import wasmtime

from . import engine as engine_module
from . import lowlevel
from .compiled import CompiledModule
from .errors import (
    HookABIError,
    HookError,
    HookFuelExhausted,
    HookHostError,
    HookMemoryExceeded,
    HookTimeout,
    HookTrap,
)
from .frame import CallFrame, GuestFault

PAGE_BYTES = 65536
MAX_TABLE_ELEMENTS = engine_module.MAX_TABLE_ELEMENTS
MAX_TABLES = engine_module.MAX_TABLES
# Called with the instance's label; wasmtime runs WASI output callbacks on its own threads,
# so the configuration must know which module it serves.
WasiConfigFactory = Callable[[str], wasmtime.WasiConfig]


@dataclass(frozen=True)
class Limits:
    """What one call may use: wall-clock time, linear memory, and optionally fuel."""

    timeout_ms: float = 50
    memory_bytes: int = 32 * 1024 * 1024
    fuel: int | None = None

    def __post_init__(self) -> None:
        if self.timeout_ms <= 0:
            raise ValueError("timeout_ms must be positive")
        if self.memory_bytes <= 0:
            raise ValueError("memory_bytes must be positive")
        if self.fuel is not None and self.fuel <= 0:
            raise ValueError("fuel must be positive or None")


class InstanceRefused(Exception):
    """The pooled engine has no free slot for an instance (before any guest code ran); the
    caller tries the on-demand engine. (Modules that do not fit a slot at all are refused
    when they are loaded into the pooled engine, before this.)"""


# wasmtime's words when the pooling allocator has no free slot (instances, memories, tables).
_POOL_FULL = "maximum concurrent limit"


class GuestInstance:
    """An instantiated module in its own Store; never used by two threads at once.

    After any failure the instance must be dropped (`broken` is set): its memory and globals
    may be half-updated.
    """

    def __init__(
        self,
        linker: wasmtime.Linker,
        compiled: CompiledModule,
        limits: Limits,
        wasi_config: WasiConfigFactory | None,
        label: str,
        state: Any = None,
        pre: wasmtime.InstancePre | None = None,
        pooled: bool = False,
    ) -> None:
        """Instantiate `compiled` and run its `_initialize`, if any, under `limits`.

        `pre` is `compiled` already linked by `linker` (`Linker.instantiate_pre`), to skip
        resolving its imports again. With `pooled`, `linker` and `pre` belong to the pooled
        engine, and a pool with no free slot raises `InstanceRefused`.

        Raises `HookMemoryExceeded` when the module's declared memory exceeds the cap, and
        any other `HookError` when its start function or `_initialize` fails.
        """
        self.compiled = compiled
        self.label = label
        self.memory_bytes = limits.memory_bytes
        self.broken = False
        declared = max(compiled.memories.values(), default=0)
        if declared > limits.memory_bytes:
            raise HookMemoryExceeded(
                f"module declares {declared} bytes of memory, over the cap of {limits.memory_bytes}",
                module=label,
            )
        self.raw = lowlevel.RawStore(linker.engine)
        self.raw.set_limits(
            memory_size=limits.memory_bytes,
            memories=1,
            table_elements=MAX_TABLE_ELEMENTS,
            tables=MAX_TABLES,
            instances=1,
        )
        if wasi_config is not None and "wasi_snapshot_preview1" in compiled.import_modules:
            self.raw.set_wasi(wasi_config(label))
        self._funcs: dict[str, int] = {}
        self.memory_address: int | None = None
        self._fuel_limited = False
        self._armed_at = self._armed_ticks = -1
        self.frame = CallFrame(state, label, "(instantiate)")
        # One deadline and one fuel budget cover instantiation, `_initialize` and the first
        # call, so a fresh instance's first call cannot take several times its timeout.
        self._arm(limits)
        self._armed_for_first_call = True
        with self.frame:
            try:
                self.instance = self.raw.instantiate(
                    linker.instantiate_pre(compiled.module) if pre is None else pre
                )
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                if pooled and type(exc) is wasmtime.WasmtimeError and _POOL_FULL in str(exc):
                    raise InstanceRefused(str(exc)) from exc
                raise self._failure(exc, self.frame) from self.frame.fault
        self.memory_address = self.instance.memory_address("memory")
        self.frame.attach_memory(self.raw.context, self.memory_address)
        self.frame.state = None
        if "_initialize" in compiled.functions:
            self._invoke(self._export("_initialize"), "_initialize", state)

    def _arm(self, limits: Limits) -> None:
        """Set the deadline, and the fuel: the call's budget, or (after a call that had one)
        an endless supply again."""
        self._set_deadline(limits.timeout_ms)
        self._fuel_limited = limits.fuel is not None
        self.raw.set_fuel(limits.fuel if limits.fuel is not None else engine_module.UNLIMITED_FUEL)

    def _set_deadline(self, timeout_ms: float) -> None:
        """Arm the deadline for a call of `timeout_ms`, unless the one armed for the previous
        call still holds: same timeout, and no tick since (a call's first C crossing saved).

        The deadline is armed one tick further than `deadline_ticks` so that it still leaves
        a reusing call its whole timeout: while the tick count has not moved the epoch has
        moved by one tick at most. A call is then stopped at most about two ticks late.
        """
        ticks = engine_module.deadline_ticks(timeout_ms)
        now = engine_module.ticks_so_far()
        if now != self._armed_at or ticks != self._armed_ticks:
            self.raw.set_deadline(ticks + 1)
            self._armed_at, self._armed_ticks = now, ticks

    def read_memory(self, ptr: int, length: int) -> bytes:
        """Copy `length` bytes at `ptr` out of the guest's memory, between calls.

        Raises `ValueError` when the module exports no memory or the range is outside it.
        """
        if self.memory_address is None:
            raise ValueError("the module exports no memory named 'memory'")
        view = self.frame.grown_memory_view()
        if ptr < 0 or length < 0 or ptr + length > len(view):
            raise ValueError(f"range of {length} bytes at {ptr} is outside guest memory ({len(view)} bytes)")
        return view[ptr : ptr + length].tobytes()

    def has_function(self, name: str) -> bool:
        return name in self.compiled.functions

    def call(self, name: str, limits: Limits, state: Any, expect: Collection[int] | None = None) -> int:
        """Call the exported `() -> i32` (or `() -> ()`) function `name` and return its result.

        The deadline and fuel are re-armed first (except on the first call, which shares the
        budget of the instance's creation). WASI `proc_exit(0)` returns 0. Raises
        `HookABIError` when the export is missing or has another signature, or when the result
        is not in `expect`, and the `HookError` matching any other failure; after a failure
        the instance is `broken`.
        """
        func = self._funcs.get(name) or self._export(name)
        if self._armed_for_first_call:
            self._armed_for_first_call = False
        elif limits.fuel is None and not self._fuel_limited:
            self._set_deadline(limits.timeout_ms)
        else:
            self._arm(limits)
        result = self._invoke(func, name, state)
        if expect is not None and result not in expect:
            self.broken = True
            raise HookABIError(
                f"returned {result}; expected one of {sorted(expect)}", module=self.label, function=name
            )
        return result

    def _export(self, name: str) -> int:
        """The address of the exported function `name`. Raises `HookABIError` if it is missing
        or mistyped."""
        signature = self.compiled.functions.get(name)
        if signature is None or signature.params or signature.results not in ((), ("i32",)):
            self.broken = True
            problem = "is not exported" if signature is None else "is not () -> i32"
            raise HookABIError(f"function {name!r} {problem}", module=self.label, function=name)
        address = self.instance.func_address(name)
        assert address is not None
        self._funcs[name] = address
        return address

    def _invoke(self, func: int, name: str, state: Any) -> int:
        frame = self.frame
        frame.state, frame.function, frame.fault = state, name, None
        with frame:
            try:
                result = self.raw.call(func)
            except wasmtime.ExitTrap as exc:
                # The guest's libc considers the process gone: never reuse this instance.
                self.broken = True
                if exc.code == 0 and frame.fault is None:
                    return 0
                raise self._failure(exc, frame) from frame.fault
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                raise self._failure(exc, frame) from frame.fault
            finally:
                frame.state = None
        if frame.fault is not None:  # pragma: no cover - a fault always traps
            raise self._failure(RuntimeError("fault"), frame)
        return result

    def _failure(self, exc: BaseException, frame: CallFrame) -> HookError:
        self.broken = True
        where = {"module": self.label, "function": frame.function}
        fault = frame.fault
        if isinstance(fault, GuestFault):
            return HookABIError(str(fault), **where)
        if fault is not None:  # raised `from` the fault, so it stays the `__cause__`
            return HookHostError(f"host function failed: {fault!r}", **where)
        if isinstance(exc, wasmtime.ExitTrap):
            return HookTrap(f"exited with code {exc.code}", **where)
        code = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
        if code == wasmtime.TrapCode.INTERRUPT:
            return HookTimeout("deadline exceeded", **where)
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return HookFuelExhausted("fuel exhausted", **where)
        if self._memory_at_cap():
            return HookMemoryExceeded(f"trapped at the memory cap: {_summary(exc)}", **where)
        if any(words in str(exc) for words in _LIMIT_ERRORS):  # refused at instantiation
            return HookMemoryExceeded(_summary(exc), **where)
        return HookTrap(_summary(exc), **where)

    def _memory_at_cap(self) -> bool:
        if self.memory_address is None:
            return False
        return self.raw.memory_size(self.memory_address) + PAGE_BYTES > self.memory_bytes


# wasmtime's words when instantiation would break a Store limit (a memory it declares but
# does not export, a table over MAX_TABLE_ELEMENTS, more than MAX_TABLES tables).
_LIMIT_ERRORS = ("exceeds memory limits", "exceeds table limits", "resource limit exceeded")


def _summary(exc: BaseException) -> str:
    """A trap's message without wasmtime's backtrace."""
    if isinstance(exc, wasmtime.Trap) and exc.trap_code is not None:
        return exc.trap_code.name.lower().replace("_", " ")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if "Caused by:" in lines:
        return "; ".join(lines[lines.index("Caused by:") + 1 :])
    return lines[0] if lines else type(exc).__name__
