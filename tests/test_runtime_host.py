"""Warm instances: reused per thread, isolated on demand, dropped after failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import wasmtime

from wasmhooks.runtime import (
    CallFrame,
    HookABIError,
    HookError,
    HookHostError,
    HookTimeout,
    HookTrap,
    HostFunction,
    Limits,
    WasmHost,
    engine,
    get_engine,
)
from wasmhooks.runtime import host as host_module

COUNTER = """
(module
  (import "test" "reenter" (func $reenter (result i32)))
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (func $incr (export "incr") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func (export "incr_then_trap") (result i32) (drop (call $incr)) unreachable)
  (func (export "reenter") (result i32) (call $reenter))
)
"""
LIMITS = Limits()


def wasm(source: str = COUNTER) -> bytes:
    return bytes(wasmtime.wat2wasm(source))


def reenter(frame: CallFrame) -> int:
    """Call back into the same module on the same thread, while the caller's instance is busy."""
    host, function = frame.state
    result: int = host.call(host.compile(wasm()), function, limits=LIMITS, label=frame.module)
    return result


@pytest.fixture
def host() -> WasmHost:
    return WasmHost([HostFunction("test", "reenter", (), ("i32",), reenter)], instances_per_thread=2)


def incr(host: WasmHost, label: str = "counter", *, isolate: bool = False) -> int:
    return host.call(host.compile(wasm()), "incr", limits=LIMITS, label=label, isolate=isolate)


def test_same_thread_reuses_the_instance(host: WasmHost) -> None:
    assert [incr(host), incr(host), incr(host)] == [1, 2, 3]
    assert host.instance_count() == 1


def test_isolated_call_gets_a_fresh_instance_each_time(host: WasmHost) -> None:
    assert incr(host) == 1
    assert [incr(host, isolate=True), incr(host, isolate=True)] == [1, 1]
    assert incr(host) == 2


@pytest.mark.parametrize(("function", "error"), [("incr_then_trap", HookTrap), ("missing", HookABIError)])
def test_instance_is_dropped_after_a_failure(host: WasmHost, function: str, error: type[HookError]) -> None:
    assert [incr(host), incr(host)] == [1, 2]
    with pytest.raises(error):
        host.call(host.compile(wasm()), function, limits=LIMITS, label="counter")
    assert host.instance_count() == 0
    assert incr(host) == 1


def test_each_label_and_memory_cap_has_its_own_instance(host: WasmHost) -> None:
    assert [incr(host, "a"), incr(host, "b"), incr(host, "a")] == [1, 1, 2]
    bigger = Limits(memory_bytes=LIMITS.memory_bytes * 2)
    assert host.call(host.compile(wasm()), "incr", limits=bigger, label="a") == 1


def test_each_thread_has_its_own_instances(host: WasmHost) -> None:
    assert [incr(host), incr(host)] == [1, 2]
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.extend([incr(host), incr(host)]))
    thread.start()
    thread.join()
    assert seen == [1, 2]
    assert incr(host) == 3


def test_pool_keeps_the_most_recently_used_instances(host: WasmHost) -> None:
    assert [incr(host, "a"), incr(host, "b"), incr(host, "c")] == [1, 1, 1]
    assert host.instance_count() == 2
    assert incr(host, "c") == 2
    assert incr(host, "a") == 1  # "a" was the oldest, so it went first


def test_clearing_the_thread_pool_drops_warm_instances(host: WasmHost) -> None:
    assert [incr(host), incr(host)] == [1, 2]
    host.clear_thread_pool()
    assert host.instance_count() == 0
    assert incr(host) == 1


def test_reentrant_call_on_the_same_thread_gets_another_instance(host: WasmHost) -> None:
    compiled = host.compile(wasm())
    assert host.call(compiled, "reenter", limits=LIMITS, state=(host, "incr"), label="counter") == 1
    assert host.call(compiled, "reenter", limits=LIMITS, state=(host, "incr"), label="counter") == 1
    assert host.instance_count() == 1


def test_failed_reentrant_call_fails_the_outer_call_cleanly(host: WasmHost) -> None:
    compiled = host.compile(wasm())
    with pytest.raises(HookHostError) as caught:
        host.call(compiled, "reenter", limits=LIMITS, state=(host, "incr_then_trap"), label="counter")
    assert isinstance(caught.value.__cause__, HookTrap)
    assert caught.value.__cause__.function == "incr_then_trap"
    assert incr(host) == 1


def test_concurrent_first_use_builds_one_linker(host: WasmHost) -> None:
    linkers: list[wasmtime.Linker] = []
    with host._linker_lock:  # every thread misses the fast path and queues on the lock
        threads = [threading.Thread(target=lambda: linkers.append(host.linker)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len({id(linker) for linker in linkers}) == 1
    assert host.linker is linkers[0]


def test_modules_and_instances_survive_an_engine_replacement(host: WasmHost) -> None:
    """What a forked child sees: modules compiled and instances built by the parent's Engine."""
    other_host = WasmHost([HostFunction("test", "reenter", (), ("i32",), reenter)])
    compiled = host.compile(wasm())
    other_compiled = other_host.compile(wasm())
    assert [incr(host), incr(host)] == [1, 2]
    old_engine, old_linker, old_ticker = get_engine(), host.linker, engine._ticker
    assert old_ticker is not None

    engine._reset_after_fork()
    old_ticker.stop()

    assert host.instance_count() == 0
    assert host.modules.cached(compiled.sha256) is None
    assert host.call(compiled, "incr", limits=LIMITS, label="counter") == 1
    assert get_engine() is not old_engine and host.linker is not old_linker
    refreshed = host.modules.refresh(compiled)
    assert refreshed.generation == engine.generation() != compiled.generation
    assert host.modules.refresh(refreshed) is refreshed
    assert host.compile(wasm()) is refreshed
    assert incr(host) == 2
    recompiled = other_host.compile(wasm())
    assert other_host.modules.refresh(other_compiled) is recompiled


def test_a_result_outside_expect_is_an_abi_error_and_drops_the_instance(host: WasmHost) -> None:
    compiled = host.compile(wasm())
    assert incr(host) == 1
    with pytest.raises(HookABIError, match=r"returned 2; expected one of \[0, 1\]") as caught:
        host.call(compiled, "incr", limits=LIMITS, label="counter", expect=(0, 1))
    assert (caught.value.module, caught.value.function) == ("counter", "incr")
    assert incr(host) == 1  # a new instance: the counter starts again


def test_a_result_inside_expect_is_returned(host: WasmHost) -> None:
    assert host.call(host.compile(wasm()), "incr", limits=LIMITS, label="counter", expect=(1,)) == 1


# Fresh instances come from the pooled engine, or from the on-demand one when it cannot take them.

NESTING = """
(module
  (import "test" "nest" (func $nest (result i32)))
  (func (export "nest") (result i32) (call $nest))
)
"""


def nest(frame: CallFrame) -> int:
    """Call `nest` again on a fresh instance, holding this one, until the depth runs out."""
    host, depth = frame.state
    if depth == 1:
        return 1
    result: int = host.call(
        host.compile(wasm(NESTING)), "nest", limits=LIMITS, state=(host, depth - 1), isolate=True
    )
    return result + 1


class Recorded(host_module.GuestInstance):
    """A `GuestInstance` that records which engine each successfully created one came from."""

    pooled: ClassVar[list[bool]] = []

    def __init__(self, *args: Any, pooled: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, pooled=pooled, **kwargs)
        Recorded.pooled.append(pooled)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    monkeypatch.setattr(host_module, "GuestInstance", Recorded)
    Recorded.pooled = []
    return Recorded.pooled


def replace_engines() -> None:
    """Start again with new engines, as a forked child does."""
    ticker = engine._ticker
    engine._reset_after_fork()
    if ticker is not None:
        ticker.stop()


@pytest.fixture
def pool_of_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(engine, "POOL_SLOTS", 2)
    replace_engines()
    yield
    monkeypatch.undo()
    replace_engines()


def test_a_fresh_instance_comes_from_the_pooled_engine(recorded: list[bool]) -> None:
    host = WasmHost([HostFunction("test", "nest", (), ("i32",), nest)])
    assert host.call(host.compile(wasm(NESTING)), "nest", limits=LIMITS, state=(host, 1), isolate=True) == 1
    assert recorded == [True]


@pytest.mark.usefixtures("pool_of_two")
def test_fresh_instances_past_the_pool_come_from_the_on_demand_engine(recorded: list[bool]) -> None:
    host = WasmHost([HostFunction("test", "nest", (), ("i32",), nest)])
    compiled = host.compile(wasm(NESTING))
    assert host.call(compiled, "nest", limits=LIMITS, state=(host, 4), isolate=True) == 4
    assert recorded == [True, True, False, False]
    assert host.call(compiled, "nest", limits=LIMITS, state=(host, 2), isolate=True) == 2  # slots freed
    assert recorded[4:] == [True, True]


def test_without_a_pooled_engine_fresh_instances_come_from_the_on_demand_one(
    monkeypatch: pytest.MonkeyPatch, recorded: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> wasmtime.Config:
        raise wasmtime.WasmtimeError("cannot reserve the address space")

    monkeypatch.setattr(engine, "_build_pooled_config", refuse)
    replace_engines()
    try:
        host = WasmHost([HostFunction("test", "nest", (), ("i32",), nest)])
        for _ in range(2):
            assert (
                host.call(host.compile(wasm(NESTING)), "nest", limits=LIMITS, state=(host, 1), isolate=True)
                == 1
            )
    finally:
        monkeypatch.undo()
        replace_engines()
    assert recorded == [False, False]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["fresh instances will not use a pooled engine: cannot reserve the address space"]


def test_the_pooled_engines_epoch_ticks(recorded: list[bool]) -> None:
    spin = '(module (func (export "spin") (result i32) (loop $l (br $l)) i32.const 0))'
    host = WasmHost([])
    started = time.monotonic()
    with pytest.raises(HookTimeout):
        host.call(host.compile(wasm(spin)), "spin", limits=Limits(timeout_ms=20), isolate=True)
    assert time.monotonic() - started < 2
    assert recorded == [True]


TAGGED = """
(module
  (import "test" "tag" (func $tag))
  (memory (export "memory") 1)
  (func (export "tagged") (result i32) (call $tag) (i32.load (i32.const 64)))
)
"""


def test_many_threads_each_call_their_own_instances_through_host_functions() -> None:
    """Each thread's host function writes into its own guest's memory and reads it back."""

    def tag(frame: CallFrame) -> None:
        frame.memory_view()[64:68] = frame.state.to_bytes(4, "little")

    host = WasmHost([HostFunction("test", "tag", (), (), tag)])
    compiled = host.compile(wasm(TAGGED))
    problems: list[str] = []

    def worker(number: int) -> None:
        for attempt in range(200):
            tag_value = number * 1000 + attempt
            isolate = attempt % 10 == 0
            result = host.call(compiled, "tagged", limits=LIMITS, state=tag_value, isolate=isolate)
            if result != tag_value:
                problems.append(f"thread {number} call {attempt}: {result}")
        if host.instance_count() != 1:
            problems.append(f"thread {number} kept {host.instance_count()} instances")

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []


def test_linked_modules_are_kept_up_to_the_caches_size(recorded: list[bool]) -> None:
    host = WasmHost([])
    host.modules.max_modules = 1
    sources = [f'(module (func (export "run") (result i32) i32.const {n}))' for n in range(3)]
    for _ in range(2):
        for n, source in enumerate(sources):
            assert host.call(host.compile(wasm(source)), "run", limits=LIMITS, isolate=True) == n
    assert recorded == [True] * 6
