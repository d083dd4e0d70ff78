"""`WasmHost`: compiles modules and runs their exports, keeping warm instances per thread."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Any

import wasmtime

from . import engine as engine_module
from . import lowlevel
from .compiled import CompiledModule, ModuleCache
from .frame import current_frame
from .instance import GuestInstance, Limits, WasiConfigFactory

_PoolKey = tuple[str, int, str]


class WasmHost:
    """The host side of every guest: host functions, compiled modules and instance pools.

    Instances are reused on the thread that created them, for the same module, memory cap and
    label; a Store is therefore never touched by two threads. `isolate=True` gives one call a
    fresh instance that is dropped afterwards.
    """

    def __init__(
        self,
        host_functions: Sequence[lowlevel.HostFunction],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        signing_key: bytes = b"",
        wasi_config: WasiConfigFactory | None = None,
        instances_per_thread: int = 64,
    ) -> None:
        self.host_functions = tuple(host_functions)
        self.modules = ModuleCache(cache_dir, signing_key)
        self.wasi_config = wasi_config
        self.instances_per_thread = instances_per_thread
        self._linker: wasmtime.Linker | None = None
        # Modules already linked by the current linker, most recently used last.
        self._prelinked: OrderedDict[str, wasmtime.InstancePre] = OrderedDict()
        self._linker_generation = -1
        self._linker_lock = engine_module.ForkSafeLock()
        self._local = threading.local()

    @property
    def linker(self) -> wasmtime.Linker:
        """The Linker holding every host function (and WASI), built once per Engine."""
        linker = self._linker
        if linker is not None and self._linker_generation == engine_module.generation():
            return linker
        with self._linker_lock:
            if self._linker is None or self._linker_generation != engine_module.generation():
                linker = wasmtime.Linker(engine_module.get_engine())
                if self.wasi_config is not None:
                    linker.define_wasi()
                    # Our host functions may replace WASI's (the sandbox shadows `poll_oneoff`).
                    linker.allow_shadowing = True
                lowlevel.define_host_functions(linker, self.host_functions, current_frame)
                self._prelinked = OrderedDict()
                self._linker = linker
                self._linker_generation = engine_module.generation()
            assert self._linker is not None
            return self._linker

    def compile(self, wasm: bytes, *, keep: bool = True) -> CompiledModule:
        """Compile `wasm` (cached; with `keep=False` not kept, see `ModuleCache.load`).

        Raises `ModuleInvalid` when it is not a valid module.
        """
        return self.modules.load(wasm, keep=keep)

    def call(
        self,
        compiled: CompiledModule,
        function: str,
        *,
        limits: Limits,
        state: Any = None,
        label: str = "",
        isolate: bool = False,
        expect: Collection[int] | None = None,
        wasi_config: WasiConfigFactory | None = None,
    ) -> int:
        """Run `function` of `compiled` and return its i32 result.

        `wasi_config` replaces the host's WASI configuration for this call, which then runs
        on a fresh instance (as with `isolate`). Raises the `HookError` that matches any
        failure, `HookABIError` for a result not in `expect` (when given); the instance that
        failed is dropped.
        """
        if compiled.generation != engine_module.generation():
            compiled = self.modules.refresh(compiled)
        if isolate or wasi_config is not None:
            return self._new_instance(compiled, limits, state, label, wasi_config).call(
                function, limits, state, expect
            )
        pool = self._pool()
        key = (compiled.sha256, limits.memory_bytes, label)
        # Taken out while in use, so a re-entrant call on this thread gets its own.
        instance = pool.pop(key, None)
        if instance is None:
            instance = self._new_instance(compiled, limits, state, label)
        try:
            return instance.call(function, limits, state, expect)
        finally:
            if not instance.broken:
                pool[key] = instance
                if len(pool) > self.instances_per_thread:
                    pool.popitem(last=False)

    def instantiate(
        self,
        compiled: CompiledModule,
        limits: Limits,
        *,
        state: Any = None,
        label: str = "",
        wasi_config: WasiConfigFactory | None = None,
    ) -> None:
        """Instantiate `compiled` once under `limits` (running `_initialize`) and drop it.

        `wasi_config` replaces the host's WASI configuration. Raises the `HookError` that
        matches the failure, as a call would.
        """
        compiled = self.modules.refresh(compiled)
        GuestInstance(self.linker, compiled, limits, wasi_config or self.wasi_config, label, state)

    def instance_count(self) -> int:
        """How many warm instances this thread keeps."""
        return len(self._pool())

    def clear_thread_pool(self) -> None:
        """Drop this thread's warm instances."""
        self._pool().clear()

    def _pool(self) -> OrderedDict[_PoolKey, GuestInstance]:
        pool: OrderedDict[_PoolKey, GuestInstance] | None = getattr(self._local, "pool", None)
        generation = engine_module.generation()
        if pool is None or getattr(self._local, "generation", None) != generation:
            pool = OrderedDict()
            self._local.pool = pool
            self._local.generation = generation
        return pool

    def _new_instance(
        self,
        compiled: CompiledModule,
        limits: Limits,
        state: Any,
        label: str,
        wasi_config: WasiConfigFactory | None = None,
    ) -> GuestInstance:
        linker = self.linker
        pre = self._prelink(linker, compiled)
        return GuestInstance(linker, compiled, limits, wasi_config or self.wasi_config, label, state, pre)

    def _prelink(self, linker: wasmtime.Linker, compiled: CompiledModule) -> wasmtime.InstancePre | None:
        """`compiled` linked once by `linker`, or None when it cannot be (the instance will then
        report why)."""
        with self._linker_lock:
            prelinked = self._prelinked
            pre = prelinked.get(compiled.sha256)
            if pre is None or self._linker is not linker:
                try:
                    pre = linker.instantiate_pre(compiled.module)
                except wasmtime.WasmtimeError:
                    return None
                if self._linker is linker:
                    prelinked[compiled.sha256] = pre
                    while len(prelinked) > self.modules.max_modules:
                        prelinked.popitem(last=False)
            else:
                prelinked.move_to_end(compiled.sha256)
            return pre
