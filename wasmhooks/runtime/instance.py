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
# Tables hold references (8 bytes an element): enough for any compiler's function table,
# small enough that `table.grow` cannot be used to eat host memory.
MAX_TABLE_ELEMENTS = 100_000
MAX_TABLES = 8
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
    ) -> None:
        """Instantiate `compiled` and run its `_initialize`, if any, under `limits`.

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
        self.store = wasmtime.Store(engine_module.get_engine())
        self.store.set_limits(
            memory_size=limits.memory_bytes,
            memories=1,
            table_elements=MAX_TABLE_ELEMENTS,
            tables=MAX_TABLES,
            instances=1,
        )
        if wasi_config is not None and "wasi_snapshot_preview1" in compiled.import_modules:
            self.store.set_wasi(wasi_config(label))
        self._funcs: dict[str, wasmtime.Func] = {}
        self.memory: wasmtime.Memory | None = None

        frame = CallFrame(state, None, label, "(instantiate)")
        # One deadline and one fuel budget cover instantiation, `_initialize` and the first
        # call, so a fresh instance's first call cannot take several times its timeout.
        self._arm(limits)
        self._armed_for_first_call = True
        with frame:
            try:
                self.instance = linker.instantiate(self.store, compiled.module)
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                raise self._failure(exc, frame) from frame.fault
        memory = self.instance.exports(self.store).get("memory")
        self.memory = memory if isinstance(memory, wasmtime.Memory) else None
        if "_initialize" in compiled.functions:
            self._invoke(self._export("_initialize"), "_initialize", state)

    def _arm(self, limits: Limits) -> None:
        self.store.set_epoch_deadline(engine_module.deadline_ticks(limits.timeout_ms))
        self.store.set_fuel(limits.fuel if limits.fuel is not None else engine_module.UNLIMITED_FUEL)

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
        func = self._export(name)
        if self._armed_for_first_call:
            self._armed_for_first_call = False
        else:
            self._arm(limits)
        result = self._invoke(func, name, state)
        if expect is not None and result not in expect:
            self.broken = True
            raise HookABIError(
                f"returned {result}; expected one of {sorted(expect)}", module=self.label, function=name
            )
        return result

    def _export(self, name: str) -> wasmtime.Func:
        """The exported function `name`. Raises `HookABIError` if it is missing or mistyped."""
        func = self._funcs.get(name)
        if func is None:
            signature = self.compiled.functions.get(name)
            if signature is None or signature.params or signature.results not in ((), ("i32",)):
                self.broken = True
                problem = "is not exported" if signature is None else "is not () -> i32"
                raise HookABIError(f"function {name!r} {problem}", module=self.label, function=name)
            export = self.instance.exports(self.store)[name]
            assert isinstance(export, wasmtime.Func)
            func = self._funcs[name] = export
        return func

    def _invoke(self, func: wasmtime.Func, name: str, state: Any) -> int:
        frame = CallFrame(state, self.memory, self.label, name)
        with frame:
            try:
                result = lowlevel.call_unchecked(self.store, func)
            except wasmtime.ExitTrap as exc:
                # The guest's libc considers the process gone: never reuse this instance.
                self.broken = True
                if exc.code == 0 and frame.fault is None:
                    return 0
                raise self._failure(exc, frame) from frame.fault
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                raise self._failure(exc, frame) from frame.fault
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
        if self.memory is None:
            return False
        return self.memory.data_len(self.store) + PAGE_BYTES > self.memory_bytes


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
