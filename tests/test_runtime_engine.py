from __future__ import annotations

import json
import os
import select
import signal
import threading
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
import wasmtime

from wasmhooks.runtime import HookTimeout, Limits, WasmHost, engine, get_engine

ANSWER = '(module (func (export "answer") (result i32) i32.const 42))'
LOOP = '(module (func (export "spin") (result i32) (loop $l (br $l)) i32.const 0))'


def wasm(source: str) -> bytes:
    return bytes(wasmtime.wat2wasm(source))


def test_one_engine_per_process() -> None:
    assert get_engine() is get_engine()
    assert engine._start() is get_engine()


def test_epoch_ticker_runs_in_the_background() -> None:
    get_engine()
    ticker = engine._ticker
    assert ticker is not None and ticker.is_alive() and ticker.daemon
    assert ticker in threading.enumerate()


def test_epoch_ticker_stops_when_asked() -> None:
    config = wasmtime.Config()
    config.epoch_interruption = True
    ticker = engine._EpochTicker(wasmtime.Engine(config))
    ticker.start()
    ticker.stop()
    ticker.join(timeout=5)
    assert not ticker.is_alive()


@pytest.mark.parametrize(("timeout_ms", "ticks"), [(0.001, 2), (5, 2), (5.1, 3), (50, 11), (1000, 201)])
def test_deadline_is_the_timeout_in_ticks_plus_one(timeout_ms: float, ticks: int) -> None:
    assert engine.deadline_ticks(timeout_ms) == ticks


def test_deadline_never_comes_before_the_timeout() -> None:
    for timeout_ms in (1, 7, 33, 50, 999):
        earliest_stop = (engine.deadline_ticks(timeout_ms) - 1) * engine.TICK_SECONDS * 1000
        assert earliest_stop >= timeout_ms


def test_fingerprint_is_stable_and_short() -> None:
    assert engine.fingerprint() == engine.fingerprint()
    assert len(engine.fingerprint()) == 16
    int(engine.fingerprint(), 16)


def test_fingerprint_is_of_the_installed_wasmtime_and_changes_with_its_version() -> None:
    assert engine.fingerprint() == engine._fingerprint(version("wasmtime"))
    assert engine._fingerprint("0.0.0") != engine.fingerprint()


def test_the_wasmtime_version_is_not_looked_up_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    monkeypatch.setattr(engine, "version", lambda name: looked_up.append(name) or "0.0.0")
    engine.fingerprint()
    assert looked_up == []  # once, on import: not on the first request of a process


def run_in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fork, run `work` in the child and return what it reported; fail if the child hangs."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        try:
            os.close(read_end)
            try:
                report = work()
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                report = {"error": repr(exc)}
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the forked child hung")
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    reported: dict[str, Any] = json.loads(b"".join(chunks))
    return reported


def test_forked_child_gets_a_fresh_engine_that_compiles_and_runs() -> None:
    host = WasmHost([])
    before_fork = host.compile(wasm(ANSWER))
    assert host.call(before_fork, "answer", limits=Limits()) == 42
    parent_generation = engine.generation()

    def child() -> dict[str, Any]:
        report: dict[str, Any] = {
            "generation": engine.generation(),
            "engine_dropped": engine._engine is None,
        }
        compiled = host.compile(wasm(ANSWER.replace("42", "7")))
        report["new_module"] = host.call(compiled, "answer", limits=Limits())
        report["module_from_parent"] = host.call(before_fork, "answer", limits=Limits())
        try:
            host.call(host.compile(wasm(LOOP)), "spin", limits=Limits(timeout_ms=50))
        except HookTimeout:
            report["loop"] = "timeout"
        report["ticker_alive"] = engine._ticker is not None and engine._ticker.is_alive()
        return report

    assert run_in_child(child) == {
        "generation": parent_generation + 1,
        "engine_dropped": True,
        "new_module": 7,
        "module_from_parent": 42,
        "loop": "timeout",
        "ticker_alive": True,
    }
    assert engine.generation() == parent_generation


def test_a_lock_held_by_another_thread_at_fork_is_free_in_the_child() -> None:
    lock = engine.ForkSafeLock()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)

    def work() -> dict[str, Any]:
        with lock:
            return {"acquired": True}

    try:
        assert run_in_child(work) == {"acquired": True}
    finally:
        release.set()
        holder.join()
    with lock:  # and the parent's lock still works once its holder lets go
        pass


def test_after_a_fork_the_lock_is_replaced_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = engine.ForkSafeLock()
    before = lock._lock
    monkeypatch.setattr(engine, "_generation", engine._generation + 1)  # as in a forked child
    # Another thread gets there first: it waits on the engine lock, which we hold, past the
    # first check; we replace the lock meanwhile, so it must not replace it again.
    engine._lock.acquire()
    racer = threading.Thread(target=lambda: lock.__enter__() and lock.__exit__())
    racer.start()
    time.sleep(0.05)
    replaced = threading.Lock()
    lock._lock, lock._generation = replaced, engine._generation
    engine._lock.release()
    racer.join(5)
    assert lock._lock is replaced is not before
    with lock:
        assert replaced.locked()


def test_a_lock_from_before_a_fork_is_replaced_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = engine.ForkSafeLock()
    before = lock._lock
    monkeypatch.setattr(engine, "_generation", engine._generation + 1)  # as in a forked child
    with lock:
        assert lock._lock is not before
        assert lock._lock.locked()


def _holding(locks: engine.KeyedLocks, key: str) -> tuple[threading.Thread, threading.Event]:
    """A thread that holds `key` until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locks.hold(key):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    return thread, release


def test_keyed_locks_make_threads_on_one_key_wait_and_no_others() -> None:
    locks = engine.KeyedLocks()
    holder, release = _holding(locks, "a")
    entered: list[str] = []

    def enter(key: str) -> None:
        with locks.hold(key):
            entered.append(key)

    waiters = [threading.Thread(target=enter, args=(key,)) for key in "ab"]
    for waiter in waiters:
        waiter.start()
    waiters[1].join(5)
    time.sleep(0.05)
    assert entered == ["b"]  # "a" still waits for its holder
    release.set()
    holder.join()
    waiters[0].join(5)
    assert entered == ["b", "a"]


def test_keyed_locks_forget_a_key_nobody_holds_or_awaits() -> None:
    locks = engine.KeyedLocks()
    with locks.hold("a"), locks.hold("b"):
        assert len(locks) == 2
    assert len(locks) == 0
    with pytest.raises(ValueError, match="boom"), locks.hold("a"):
        raise ValueError("boom")
    assert len(locks) == 0


def test_after_a_fork_keyed_locks_held_by_lost_threads_are_free(monkeypatch: pytest.MonkeyPatch) -> None:
    locks = engine.KeyedLocks()
    holder, release = _holding(locks, "a")
    monkeypatch.setattr(engine, "_generation", engine._generation + 1)  # as in a forked child
    with locks.hold("a"):  # the holder's thread would not exist in a child
        assert len(locks) == 1
    release.set()
    holder.join()  # and letting go of the old lock leaves the new ones alone
    with locks.hold("a"):
        assert len(locks) == 1
    assert len(locks) == 0


def test_deadlines_are_worked_out_once_per_timeout_and_never_kept_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "_ticks", {})
    assert [engine.deadline_ticks(12.5) for _ in range(3)] == [4, 4, 4]
    assert engine._ticks == {12.5: 4}
    expected = {timeout_ms: engine.deadline_ticks(timeout_ms) for timeout_ms in range(1, 2000)}
    assert len(engine._ticks) == 1024
    assert {timeout_ms: engine.deadline_ticks(timeout_ms) for timeout_ms in range(1, 2000)} == expected
    assert expected[1000] == 201


def test_threads_asking_for_the_pooled_engine_at_once_get_the_same_one() -> None:
    ticker = engine._ticker
    engine._reset_after_fork()
    if ticker is not None:
        ticker.stop()
    engines: list[wasmtime.Engine | None] = []
    get_engine()
    with engine._lock:  # both threads pass the fast path and queue on the lock
        threads = [
            threading.Thread(target=lambda: engines.append(engine.get_pooled_engine())) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len(engines) == 2 and engines[0] is engines[1] is engine.get_pooled_engine() is not None
    assert engine._ticker is not None and engine._ticker.engines == (get_engine(), engines[0])
