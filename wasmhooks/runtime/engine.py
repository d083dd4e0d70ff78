"""The process-wide wasmtime Engine and the ticker that drives its epoch.

One Engine serves every module and thread in a process. Epoch interruption gives each call a
wall-clock deadline: a single daemon thread bumps the epoch every `TICK_SECONDS`, and each call
re-arms its own deadline relative to the current epoch, so one guest's timeout never cuts
another short. Fuel is always enabled so a binding may add an instruction budget; calls without
one get an effectively endless supply.

After `fork()` the child drops the Engine (its worker threads did not survive the fork) and
starts a fresh one on first use; a generation number tells pools and caches to drop what they
built against the old Engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

TICK_SECONDS = 0.005
UNLIMITED_FUEL = 2**63 - 1
POOL_SLOTS = 256
"""Instances the pooled engine holds at once (each reserves 4 GiB of address space, not memory)."""
MAX_TABLE_ELEMENTS = 100_000
"""Elements a table may hold: enough for any compiler's function table, small enough that
`table.grow` cannot be used to eat host memory (8 bytes an element)."""
MAX_TABLES = 8

logger = logging.getLogger("wasmhooks.runtime")

_lock = threading.Lock()
_engine: wasmtime.Engine | None = None
# Built on first use, for fresh instances only; False once it could not be built.
_pooled_engine: wasmtime.Engine | bool | None = None
_ticker: _EpochTicker | None = None
_generation = 0

# Every engine setting that changes the compiled code goes into the fingerprint, so an
# artifact serialized under other settings (or another wasmtime) is never deserialized.
_ENGINE_SETTINGS = {
    "epoch_interruption": True,
    "consume_fuel": True,
    "cranelift_opt_level": "speed",
    # Store limits cap each memory, not their sum: one memory per module keeps the cap a cap.
    "wasm_multi_memory": False,
    "wasm_memory64": False,
    # No shared memories: a guest's memory is a plain `Memory` the host can bounds-check.
    "wasm_threads": False,
    # Every 32-bit memory gets all the address space it can ever use up front, so it never
    # moves: the host keeps a view of it between calls and only looks again when it grew.
    "memory_reservation": 4 * 1024**3,
    "memory_may_move": False,
}


def _build_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = _ENGINE_SETTINGS["epoch_interruption"]
    config.consume_fuel = _ENGINE_SETTINGS["consume_fuel"]
    config.cranelift_opt_level = _ENGINE_SETTINGS["cranelift_opt_level"]
    config.wasm_multi_memory = _ENGINE_SETTINGS["wasm_multi_memory"]
    config.wasm_memory64 = _ENGINE_SETTINGS["wasm_memory64"]
    config.wasm_threads = _ENGINE_SETTINGS["wasm_threads"]
    config.memory_reservation = _ENGINE_SETTINGS["memory_reservation"]
    config.memory_may_move = _ENGINE_SETTINGS["memory_may_move"]
    # Parallel compilation runs on a process-wide thread pool that a forked child inherits
    # without its threads: compiling there would wait forever. Children compile serially.
    config.parallel_compilation = _generation == 0
    return config


def _build_pooled_config() -> wasmtime.Config:
    """The engine settings, allocating instances from a pool of ready slots instead of mapping
    and unmapping memory for each one: about half the cost of a fresh instance."""
    config = _build_config()
    pool = ffi.wasmtime_pooling_allocation_config_new()
    try:
        ffi.wasmtime_pooling_allocation_config_total_core_instances_set(pool, POOL_SLOTS)
        ffi.wasmtime_pooling_allocation_config_total_memories_set(pool, POOL_SLOTS)
        ffi.wasmtime_pooling_allocation_config_total_tables_set(pool, POOL_SLOTS * MAX_TABLES)
        ffi.wasmtime_pooling_allocation_config_max_memories_per_module_set(pool, 1)
        ffi.wasmtime_pooling_allocation_config_max_memory_size_set(
            pool, _ENGINE_SETTINGS["memory_reservation"]
        )
        ffi.wasmtime_pooling_allocation_config_max_tables_per_module_set(pool, MAX_TABLES)
        ffi.wasmtime_pooling_allocation_config_table_elements_set(pool, MAX_TABLE_ELEMENTS)
        ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    finally:
        ffi.wasmtime_pooling_allocation_config_delete(pool)
    return config


class _EpochTicker(threading.Thread):
    def __init__(self, engine: wasmtime.Engine) -> None:
        super().__init__(name="wasmhooks-epoch", daemon=True)
        self.engines: tuple[wasmtime.Engine, ...] = (engine,)
        self.count = 0
        """Ticks so far, counted after the engines' epochs moved: they are `count` or one more."""
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(TICK_SECONDS):
            for engine in self.engines:
                engine.increment_epoch()
            self.count += 1

    def stop(self) -> None:
        self._stop_event.set()


class ForkSafeLock:
    """A lock that a forked child replaces with a fresh one.

    `fork()` copies a lock in whatever state it is, but not the thread holding it: a child
    forked while another thread held the lock would wait for it forever.
    """

    __slots__ = ("_generation", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = _generation

    def acquire(self, blocking: bool = True) -> bool:
        if self._generation != _generation:
            with _lock:  # itself re-created after a fork
                if self._generation != _generation:
                    self._lock = threading.Lock()
                    self._generation = _generation
        return self._lock.acquire(blocking)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


class KeyedLocks:
    """One lock per key, held by `hold(key)`: threads working on one key wait for each other,
    never for threads working on another. A key's lock goes when no thread holds or awaits it.

    A forked child forgets every lock, as `ForkSafeLock` does.
    """

    def __init__(self) -> None:
        self._guard = ForkSafeLock()
        # key -> [its lock, the threads holding or awaiting it]
        self._locks: dict[str, list[Any]] = {}
        self._generation = _generation

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            if self._generation != _generation:
                self._locks = {}
                self._generation = _generation
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0 and self._locks.get(key) is entry:
                    del self._locks[key]

    def __len__(self) -> int:
        """Keys whose lock is held or awaited."""
        return len(self._locks)


def get_engine() -> wasmtime.Engine:
    """Return this process's Engine, creating it and starting the epoch ticker on first use."""
    engine = _engine
    if engine is not None:
        return engine
    return _start()


def _start() -> wasmtime.Engine:
    global _engine, _ticker
    with _lock:
        if _engine is None:
            _engine = wasmtime.Engine(_build_config())
            _ticker = _EpochTicker(_engine)
            _ticker.start()
        return _engine


def get_pooled_engine() -> wasmtime.Engine | None:
    """An engine with the same settings as `get_engine()`'s (its compiled code loads in both)
    that takes instances from a pool of `POOL_SLOTS`; its epoch ticks with the other's.

    Returns None when it cannot be built (its pool reserves about 1 TiB of address space,
    which a `ulimit -v` may refuse); the failure is logged once.
    """
    global _pooled_engine
    pooled = _pooled_engine
    if isinstance(pooled, wasmtime.Engine):
        return pooled
    if pooled is False:
        return None
    get_engine()
    with _lock:
        if _pooled_engine is None:
            try:
                _pooled_engine = wasmtime.Engine(_build_pooled_config())
            except wasmtime.WasmtimeError as exc:
                logger.warning("fresh instances will not use a pooled engine: %s", exc)
                _pooled_engine = False
            else:
                assert _ticker is not None
                _ticker.engines = (*_ticker.engines, _pooled_engine)
        return _pooled_engine if isinstance(_pooled_engine, wasmtime.Engine) else None


def ticks_so_far() -> int:
    """How many times the epoch has moved (or one less): deadlines set while this stays the
    same were set against the same epoch, give or take one tick."""
    ticker = _ticker
    return ticker.count if ticker is not None else -1


def generation() -> int:
    """A number that changes whenever the Engine is replaced (after a fork)."""
    return _generation


def deadline_ticks(timeout_ms: float) -> int:
    """The epoch deadline that stops a call no sooner than `timeout_ms` and at most one tick later.

    One tick is added because the next tick may come at any moment after the deadline is set.
    (Instances add one more, to reuse a deadline while no tick has passed: see `GuestInstance`.)
    """
    ticks = _ticks.get(timeout_ms)
    if ticks is None:
        ticks = max(1, math.ceil(timeout_ms / 1000 / TICK_SECONDS)) + 1
        if len(_ticks) < 1024:  # a handful of timeouts in practice; never grow without bound
            _ticks[timeout_ms] = ticks
    return ticks


_ticks: dict[float, int] = {}


def fingerprint() -> str:
    """A short digest of the wasmtime version and engine settings that shape compiled code.

    Worked out once, on import: looking the version up costs about 2 ms, too much for the
    first request of a process.
    """
    return _FINGERPRINT


def _fingerprint(wasmtime_version: str) -> str:
    described = f"wasmtime={wasmtime_version};" + ";".join(
        f"{key}={value}" for key, value in sorted(_ENGINE_SETTINGS.items())
    )
    return hashlib.sha256(described.encode()).hexdigest()[:16]


_FINGERPRINT = _fingerprint(version("wasmtime"))


def _reset_after_fork() -> None:
    global _engine, _pooled_engine, _ticker, _generation, _lock
    _lock = threading.Lock()
    _engine = None
    _pooled_engine = None
    _ticker = None
    _generation += 1


os.register_at_fork(after_in_child=_reset_after_fork)
