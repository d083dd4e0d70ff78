"""`WasmHost`: compiles modules and runs their exports, keeping warm instances per thread."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from typing import Any

import wasmtime

from . import engine as engine_module
from . import lowlevel
from .compiled import CompiledModule, ModuleCache
from .frame import current_frame
from .instance import GuestInstance, InstanceRefused, Limits, WasiConfigFactory

_PoolKey = tuple[str, int, str]


class WasmHost:
    """The host side of every guest: host functions, compiled modules and instance pools.

    Instances are reused on the thread that created them, for the same module, memory cap and
    label; a Store is therefore never touched by two threads. `isolate=True` gives one call a
    fresh instance that is dropped afterwards, taken from the pooled engine when it has a slot.
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
        self._main: _LinkedEngine | None = None
        self._pooled: _LinkedEngine | None = None
        self._linker_lock = engine_module.ForkSafeLock()
        self._local = threading.local()

    @property
    def linker(self) -> wasmtime.Linker:
        """The Linker holding every host function (and WASI), built once per Engine."""
        return self._linked_engine().linker

    def prepare(self) -> None:
        """Build the engine and the linker now rather than on the first call."""
        self._linked_engine()

    def _linked_engine(self) -> _LinkedEngine:
        linked = self._main
        if linked is not None and linked.generation == engine_module.generation():
            return linked
        with self._linker_lock:
            if self._main is None or self._main.generation != engine_module.generation():
                self._main = _LinkedEngine(engine_module.get_engine(), self._define, compiles=True)
            return self._main

    def _linked_pooled_engine(self) -> _LinkedEngine | None:
        linked = self._pooled
        if linked is not None and linked.generation == engine_module.generation():
            return linked
        engine = engine_module.get_pooled_engine()
        if engine is None:
            return None
        with self._linker_lock:
            if self._pooled is None or self._pooled.generation != engine_module.generation():
                self._pooled = _LinkedEngine(engine, self._define, compiles=False)
            return self._pooled

    def _define(self, linker: wasmtime.Linker) -> None:
        if self.wasi_config is not None:
            linker.define_wasi()
            # Our host functions may replace WASI's (the sandbox shadows `poll_oneoff`).
            linker.allow_shadowing = True
        lowlevel.define_host_functions(linker, self.host_functions, current_frame)

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
            fresh = self._new_instance(compiled, limits, state, label, wasi_config, pooled=True)
            return fresh.call(function, limits, state, expect)
        pool = self._pool()
        key = (compiled.sha256, limits.memory_bytes, label)
        # Taken out while in use, so a re-entrant call on this thread gets its own.
        instance: GuestInstance | None = pool.pop(key, None)
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
        self._new_instance(compiled, limits, state, label, wasi_config)

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
        *,
        pooled: bool = False,
    ) -> GuestInstance:
        """A new instance; with `pooled`, from the pooled engine when it can take it."""
        wasi_config = wasi_config or self.wasi_config
        pooled_engine = self._linked_pooled_engine() if pooled else None
        if pooled_engine is not None:
            pre = pooled_engine.prelink(compiled, self.modules)
            if pre is not None:
                try:
                    return GuestInstance(
                        pooled_engine.linker, compiled, limits, wasi_config, label, state, pre, pooled=True
                    )
                except InstanceRefused:
                    pass  # the pool has no free slot: the on-demand engine takes it
        main = self._linked_engine()
        pre = main.prelink(compiled, self.modules)
        return GuestInstance(main.linker, compiled, limits, wasi_config, label, state, pre)


class _LinkedEngine:
    """An engine with a linker of every host function, and the modules it has linked."""

    def __init__(
        self, engine: wasmtime.Engine, define: Callable[[wasmtime.Linker], None], *, compiles: bool
    ) -> None:
        self.engine = engine
        self.compiles = compiles
        """Whether modules are compiled for this engine; if not, they are loaded into it."""
        self.generation = engine_module.generation()
        self.linker = wasmtime.Linker(engine)
        define(self.linker)
        # Most recently used last.
        self._prelinked: OrderedDict[str, wasmtime.InstancePre] = OrderedDict()
        self._lock = threading.Lock()

    def prelink(self, compiled: CompiledModule, modules: ModuleCache) -> wasmtime.InstancePre | None:
        """`compiled` linked once (loaded into this engine first if it was compiled for another),
        or None when it cannot be: the instance will then report why."""
        with self._lock:
            pre = self._prelinked.get(compiled.sha256)
            if pre is not None:
                self._prelinked.move_to_end(compiled.sha256)
                return pre
        module = compiled.module
        try:
            if not self.compiles:  # the same settings: the native code loads as it is
                module = modules.module_for(self.engine, compiled)
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError:
            return None
        with self._lock:
            self._prelinked[compiled.sha256] = pre
            while len(self._prelinked) > modules.max_modules:
                self._prelinked.popitem(last=False)
        return pre
