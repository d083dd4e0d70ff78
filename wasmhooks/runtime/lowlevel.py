"""Direct calls into wasmtime's C API for the hot path.

wasmtime-py's documented `Func.__call__` and host-function trampoline convert every value and
re-query types on each crossing, and the trampoline keeps a failing callback's exception in a
process-global slot that another thread can pick up. This module registers host functions
with `wasmtime_linker_define_func_unchecked` through our own callback, calls exports with
`wasmtime_func_call_unchecked`, and reads memory bounds directly.

Everything here trusts its arguments: signatures are checked once, when a module is loaded,
by the callers. A mistake in this file is a crash, not an exception, so keep it small.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime import _ffi as ffi

if TYPE_CHECKING:
    from .frame import CallFrame

HostImpl = Callable[..., int | None]

_VALTYPES = {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64}
_NO_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))
# ctypes callbacks must outlive every linker that refers to them.
_keepalive: list[Any] = []


@dataclass(frozen=True)
class HostFunction:
    """A function the host exports to guests: `impl(frame, *args)` returns the result or None."""

    module: str
    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]
    impl: HostImpl

    def functype(self) -> wasmtime.FuncType:
        return wasmtime.FuncType(
            [_VALTYPES[p]() for p in self.params], [_VALTYPES[r]() for r in self.results]
        )


def new_trap(message: str) -> int:
    """Create a wasmtime trap and return its address, as an unchecked callback returns it."""
    encoded = message.encode()
    trap = ffi.wasmtime_trap_new(ctypes.create_string_buffer(encoded), len(encoded))
    address: int = ctypes.cast(trap, ctypes.c_void_p).value or 0
    return address


def _make_callback(function: HostFunction, frame_lookup: Callable[[], CallFrame | None]) -> Any:
    from .frame import GuestFault

    impl = function.impl
    fields = tuple("i64" if p == "i64" else "i32" for p in function.params)
    result_field = function.results[0] if function.results else None
    label = f"{function.module}.{function.name}"

    def callback(_env: Any, caller: Any, values: Any, _count: int) -> int:
        frame = frame_lookup()
        if frame is None:
            return new_trap(f"{label} called outside a hook call")
        frame.context = ffi.wasmtime_caller_context(caller)
        try:
            args = [getattr(values[i], field) for i, field in enumerate(fields)]
            result = impl(frame, *args)
            if result_field is not None:
                setattr(values[0], result_field, result)
            return 0
        except GuestFault as fault:
            frame.fault = fault
            return new_trap(f"{label}: {fault}")
        except BaseException as exc:  # noqa: BLE001 - must never unwind into wasmtime
            frame.fault = exc
            return new_trap(f"{label}: host error")

    return ffi.wasmtime_func_unchecked_callback_t(callback)


def define_host_functions(
    linker: wasmtime.Linker,
    functions: Sequence[HostFunction],
    frame_lookup: Callable[[], CallFrame | None],
) -> None:
    """Define every function on `linker`. Raises `wasmtime.WasmtimeError` on a duplicate name."""
    for function in functions:
        callback = _make_callback(function, frame_lookup)
        functype = function.functype()
        _keepalive.append((callback, functype))
        module, name = function.module.encode(), function.name.encode()
        error = ffi.wasmtime_linker_define_func_unchecked(
            linker.ptr(),
            module,
            len(module),
            name,
            len(name),
            functype.ptr(),
            callback,
            None,
            _NO_FINALIZER,
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)


def call_unchecked(store: wasmtime.Store, func: wasmtime.Func) -> int:
    """Call `func`, whose type must be `() -> i32` or `() -> ()`; return the i32 (0 for none).

    Raises `wasmtime.Trap` for a trap and `wasmtime.WasmtimeError` (an `ExitTrap` for WASI's
    `proc_exit`) for an error, as the documented API does.
    """
    values = (ffi.wasmtime_val_raw_t * 1)()
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    error = ffi.wasmtime_func_call_unchecked(
        store._context(), ctypes.byref(func._func), values, 1, ctypes.byref(trap)
    )
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    if trap:
        raise wasmtime.Trap._from_ptr(trap)
    result: int = values[0].i32
    return result


def memory_region(context: Any, memory: wasmtime.Memory) -> tuple[int, int]:
    """Return (base address, size in bytes) of `memory` as seen from a store context."""
    raw = ctypes.byref(memory._memory)
    base = ffi.wasmtime_memory_data(context, raw)
    size: int = ffi.wasmtime_memory_data_size(context, raw)
    address: int = ctypes.cast(base, ctypes.c_void_p).value or 0
    return address, size
