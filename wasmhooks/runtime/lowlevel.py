"""Direct calls into wasmtime's C API for the hot path.

wasmtime-py's documented API converts every value and re-queries types on each crossing
(`Func.__call__`, host-function trampolines, `Instance.exports`, `Memory.read`), which costs
microseconds per crossing, and its trampoline keeps a failing callback's exception in a
process-global slot that another thread can pick up. This module binds the few C functions
the hot path needs with plain integer arguments (addresses as ints, so ctypes converts
nothing), registers host functions through `wasmtime_linker_define_func_unchecked` with our
own callback, and calls exports with `wasmtime_func_call_unchecked`.

Everything here trusts its arguments: signatures are checked once, when a module is loaded,
by the callers. A mistake in this file is a crash, not an exception, so keep it small. Three
facts it relies on: a ctypes struct field is a view into its parent (keep the parent alive,
take its address, never copy it); a memory's base address moves only when it grows, and it
never shrinks, so an unchanged size means an unchanged base; every address handed to C here
belongs to an object that the caller keeps alive for as long as C may use it.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import wasmtime
from wasmtime import _ffi as ffi

if TYPE_CHECKING:
    from .frame import CallFrame

HostImpl = Callable[..., int | None]

_ADDRESS = ctypes.c_void_p
_SIZE = ctypes.c_size_t


def _bind(name: str, restype: Any, *argtypes: Any) -> Any:
    return ctypes.CFUNCTYPE(restype, *argtypes)((name, ffi.dll))


_func_call = _bind("wasmtime_func_call_unchecked", _ADDRESS, _ADDRESS, _ADDRESS, _ADDRESS, _SIZE, _ADDRESS)
_set_epoch_deadline = _bind("wasmtime_context_set_epoch_deadline", None, _ADDRESS, ctypes.c_uint64)
_set_fuel = _bind("wasmtime_context_set_fuel", _ADDRESS, _ADDRESS, ctypes.c_uint64)
_trap_new = _bind("wasmtime_trap_new", _ADDRESS, ctypes.c_char_p, _SIZE)
_instantiate = _bind("wasmtime_instance_pre_instantiate", _ADDRESS, _ADDRESS, _ADDRESS, _ADDRESS, _ADDRESS)
_export_get = _bind(
    "wasmtime_instance_export_get", ctypes.c_bool, _ADDRESS, _ADDRESS, ctypes.c_char_p, _SIZE, _ADDRESS
)
_define_func = _bind(
    "wasmtime_linker_define_func_unchecked",
    _ADDRESS,
    _ADDRESS,
    ctypes.c_char_p,
    _SIZE,
    ctypes.c_char_p,
    _SIZE,
    _ADDRESS,
    _ADDRESS,
    _ADDRESS,
    _ADDRESS,
)
_store_new = _bind("wasmtime_store_new", _ADDRESS, _ADDRESS, _ADDRESS, _ADDRESS)
_store_context = _bind("wasmtime_store_context", _ADDRESS, _ADDRESS)
_store_delete = _bind("wasmtime_store_delete", None, _ADDRESS)
_store_limiter = _bind("wasmtime_store_limiter", None, _ADDRESS, *[ctypes.c_int64] * 5)
_set_wasi = _bind("wasmtime_context_set_wasi", _ADDRESS, _ADDRESS, _ADDRESS)
memory_base = _bind("wasmtime_memory_data", _ADDRESS, _ADDRESS, _ADDRESS)
"""`memory_base(context, memory) -> address` of a memory's first byte (None when it is empty)."""
memory_size = _bind("wasmtime_memory_data_size", _SIZE, _ADDRESS, _ADDRESS)
"""`memory_size(context, memory) -> bytes`."""

# Our callback type: every argument an int, so ctypes builds no pointer objects per call.
_Callback = ctypes.CFUNCTYPE(_SIZE, _ADDRESS, _ADDRESS, _ADDRESS, _SIZE)
_VALTYPES = {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64}
# A `wasmtime_val_raw_t` is 16 bytes; an i32 or i64 sits at its start, little-endian.
_RAW_FIELDS = {"i32": "i12x", "i64": "q8x"}
_RESULT_FORMATS = {"i32": "<i", "i64": "<q"}
# ctypes callbacks must outlive every linker that refers to them, and so, to be safe, must
# the function types they were defined with.
_callbacks: dict[tuple[int, int], tuple[HostFunction, Any, Any]] = {}
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
    address: int = _trap_new(encoded, len(encoded))
    return address


# All of this process's memory as one byte view, so a callback can unpack its arguments at
# the address wasmtime gives it without building a ctypes object per call. Only ever indexed
# at addresses wasmtime hands us.
_ADDRESS_SPACE = memoryview((ctypes.c_char * sys.maxsize).from_address(0)).cast("B")


def _make_callback(function: HostFunction, frame_lookup: Callable[[], CallFrame | None]) -> Any:
    from .frame import GuestFault

    impl = function.impl
    # wasmtime passes max(params, results) slots: arguments in, the result out in slot 0.
    unpack_args = struct.Struct("<" + "".join(_RAW_FIELDS[p] for p in function.params)).unpack_from
    result_format = _RESULT_FORMATS[function.results[0]] if function.results else None
    pack_result = struct.Struct(result_format).pack_into if result_format else None
    label = f"{function.module}.{function.name}"
    memory = _ADDRESS_SPACE

    def callback(_env: int | None, _caller: int, values: int, _count: int) -> int:
        frame = frame_lookup()
        if frame is None:
            return new_trap(f"{label} called outside a hook call")
        try:
            result = impl(frame, *unpack_args(memory, values))
            if pack_result is not None:
                pack_result(memory, values, result)
            return 0
        except GuestFault as fault:
            frame.fault = fault
            return new_trap(f"{label}: {fault}")
        except BaseException as exc:  # noqa: BLE001 - must never unwind into wasmtime
            frame.fault = exc
            return new_trap(f"{label}: host error")

    return _Callback(callback)


def define_host_functions(
    linker: wasmtime.Linker,
    functions: Sequence[HostFunction],
    frame_lookup: Callable[[], CallFrame | None],
) -> None:
    """Define every function on `linker`. Raises `wasmtime.WasmtimeError` on a duplicate name.

    Callbacks are made once per function and lookup, and shared by every linker (the pooled
    engine's, a forked child's); function types once per signature and linker.
    """
    linker_address = ctypes.cast(linker.ptr(), _ADDRESS).value
    functypes: dict[tuple[tuple[str, ...], tuple[str, ...]], wasmtime.FuncType] = {}
    for function in functions:
        key = (id(function), id(frame_lookup))
        found = _callbacks.get(key)
        if found is None:
            # Kept with what it was made from, so neither id can be reused while it lives.
            found = _callbacks[key] = (function, frame_lookup, _make_callback(function, frame_lookup))
        callback = found[2]
        signature = (function.params, function.results)
        functype = functypes.get(signature)
        if functype is None:
            functype = functypes[signature] = function.functype()
        module, name = function.module.encode(), function.name.encode()
        error = _define_func(
            linker_address,
            module,
            len(module),
            name,
            len(name),
            ctypes.cast(functype.ptr(), _ADDRESS).value,
            ctypes.cast(callback, _ADDRESS).value,
            None,
            None,
        )
        if error:
            raise _error(error)
    _keepalive.append(tuple(functypes.values()))


_engine_addresses: dict[int, tuple[wasmtime.Engine, int]] = {}


def _address_of(engine: wasmtime.Engine) -> int:
    found = _engine_addresses.get(id(engine))
    if found is None or found[0] is not engine:
        # Kept with its engine, so the id cannot be reused while the entry lives.
        found = _engine_addresses[id(engine)] = (engine, ctypes.cast(engine.ptr(), _ADDRESS).value or 0)
    return found[1]


def _error(address: int) -> wasmtime.WasmtimeError:
    """Wrap an owned `wasmtime_error_t` (an `ExitTrap` for WASI's `proc_exit`)."""
    return wasmtime.WasmtimeError._from_ptr(ctypes.cast(address, ctypes.POINTER(ffi.wasmtime_error_t)))


def _trap(address: int) -> wasmtime.Trap:
    return wasmtime.Trap._from_ptr(ctypes.cast(address, ctypes.POINTER(ffi.wasm_trap_t)))


class RawStore:
    """A wasmtime Store of our own, seen through its context address, with buffers reused by
    every call. Deleted with this object; used by one thread at a time.
    """

    __slots__ = (
        "_engine",
        "_handle",
        "_result",
        "_trap",
        "_trap_address",
        "_values",
        "_values_address",
        "context",
    )

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine  # the store refers to it
        self._handle: int | None = _store_new(_address_of(engine), None, None)
        self.context: int = _store_context(self._handle)
        self._values = (ffi.wasmtime_val_raw_t * 1)()
        self._values_address = ctypes.addressof(self._values)
        self._result = ctypes.c_int32.from_buffer(self._values)
        self._trap = _ADDRESS()
        self._trap_address = ctypes.addressof(self._trap)

    def close(self) -> None:
        """Delete the store now (it is deleted with this object otherwise); idempotent."""
        handle, self._handle = self._handle, None
        if handle:
            _store_delete(handle)

    __del__ = close

    def set_limits(
        self, *, memory_size: int, table_elements: int, instances: int, tables: int, memories: int
    ) -> None:
        """Cap what the store's instances may hold (see `wasmtime.Store.set_limits`)."""
        _store_limiter(self._handle, memory_size, table_elements, instances, tables, memories)

    def set_wasi(self, config: wasmtime.WasiConfig) -> None:
        """Give the store WASI, configured by `config` (which is used up).

        Raises `wasmtime.WasmtimeError` when wasmtime refuses it.
        """
        error = _set_wasi(self.context, ctypes.cast(config._consume(), _ADDRESS).value)
        if error:  # pragma: no cover - no configuration a WasiConfig can hold is refused here
            raise _error(error)

    def set_deadline(self, ticks: int) -> None:
        """Let the next call run until the epoch is `ticks` past the current one."""
        _set_epoch_deadline(self.context, ticks)

    def set_fuel(self, fuel: int) -> None:
        """Raises `wasmtime.WasmtimeError` when the engine does not consume fuel."""
        error = _set_fuel(self.context, fuel)
        if error:
            raise _error(error)

    def _raise_failure(self, error: int | None) -> NoReturn:
        """Raise what wasmtime reported: an error, else the trap it left in `_trap`."""
        trap, self._trap.value = self._trap.value, None
        if error:
            raise _error(error)
        assert trap is not None
        raise _trap(trap)

    def instantiate(self, pre: wasmtime.InstancePre) -> RawInstance:
        """Instantiate a pre-linked module in this store (running its start function).

        Raises `wasmtime.Trap` for a trap and `wasmtime.WasmtimeError` for an error.
        """
        instance = RawInstance(self)
        pre_address = ctypes.cast(pre.ptr(), _ADDRESS).value
        error = _instantiate(pre_address, self.context, ctypes.addressof(instance.handle), self._trap_address)
        if error or self._trap.value:
            self._raise_failure(error)
        return instance

    def call(self, func_address: int) -> int:
        """Call the function at `func_address` (a `wasmtime_func_t` in this store), whose type
        must be `() -> i32` or `() -> ()`; return the i32 (0 for none).

        Raises `wasmtime.Trap` for a trap and `wasmtime.WasmtimeError` (an `ExitTrap` for
        WASI's `proc_exit`) for an error, as the documented API does.
        """
        self._result.value = 0
        error = _func_call(self.context, func_address, self._values_address, 1, self._trap_address)
        if error or self._trap.value:
            self._raise_failure(error)
        return self._result.value

    def memory_size(self, memory_address: int) -> int:
        size: int = memory_size(self.context, memory_address)
        return size


class RawInstance:
    """An instance in a `RawStore`, with its exports looked up by name."""

    __slots__ = ("_exports", "handle", "store")

    def __init__(self, store: RawStore) -> None:
        self.store = store
        self.handle = ffi.wasmtime_instance_t()
        # Every export looked up so far, kept alive: callers hold addresses into them.
        self._exports: dict[str, Any] = {}

    def _export(self, name: str, kind: int) -> Any | None:
        found = self._exports.get(name)
        if found is None:
            found = ffi.wasmtime_extern_t()
            encoded = name.encode()
            if not _export_get(
                self.store.context,
                ctypes.addressof(self.handle),
                encoded,
                len(encoded),
                ctypes.addressof(found),
            ):
                return None
            self._exports[name] = found
        return found if found.kind == kind else None

    def func_address(self, name: str) -> int | None:
        """The address of the exported function `name`, or None if there is no such function."""
        found = self._export(name, ffi.WASMTIME_EXTERN_FUNC.value)
        return None if found is None else ctypes.addressof(found.of.func)

    def memory_address(self, name: str) -> int | None:
        """The address of the exported memory `name`, or None if there is no such memory."""
        found = self._export(name, ffi.WASMTIME_EXTERN_MEMORY.value)
        return None if found is None else ctypes.addressof(found.of.memory)
