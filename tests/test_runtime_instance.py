"""Limits and failures of one guest call: timeouts, fuel, memory, traps, exports, WASI exit."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import wasmtime

from wasmhooks.runtime import (
    GuestInstance,
    HookABIError,
    HookError,
    HookFuelExhausted,
    HookMemoryExceeded,
    HookTimeout,
    HookTrap,
    HostFunction,
    Limits,
    ModuleInvalid,
    WasmHost,
    lowlevel,
)
from wasmhooks.runtime import engine as engine_module
from wasmhooks.runtime import instance as instance_module

PAGE = 65536
SPIN = "(loop $l (br $l))"
COUNT_TO = """
  (func $count_to (param $n i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
"""


def wasm(source: str) -> bytes:
    return bytes(wasmtime.wat2wasm(source))


def sleep_ms(frame: object, ms: int) -> None:
    time.sleep(ms / 1000)


class FreshHost(WasmHost):
    """Runs every call on a fresh instance: from the pooled engine, where the limits must hold too."""

    def call(self, *args: Any, **kwargs: Any) -> int:
        return super().call(*args, **{**kwargs, "isolate": True})


@pytest.fixture
def warm_host() -> WasmHost:
    """For what only a reused instance shows."""
    return WasmHost([HostFunction("test", "sleep_ms", ("i32",), (), sleep_ms)])


@pytest.fixture(params=[WasmHost, FreshHost], ids=["warm", "fresh"])
def host(request: pytest.FixtureRequest) -> WasmHost:
    host_class: type[WasmHost] = request.param
    return host_class([HostFunction("test", "sleep_ms", ("i32",), (), sleep_ms)])


def call(host: WasmHost, source: str, function: str, limits: Limits | None = None) -> int:
    return host.call(host.compile(wasm(source)), function, limits=limits or Limits(), label="guest")


def test_limits_must_be_positive() -> None:
    for bad in ({"timeout_ms": 0}, {"memory_bytes": 0}, {"fuel": 0}):
        with pytest.raises(ValueError, match="must be positive"):
            Limits(**bad)


# Timeouts

LOOPS = f"""
(module
  (import "test" "sleep_ms" (func $sleep (param i32)))
  {COUNT_TO}
  (func (export "spin") (result i32) {SPIN} i32.const 0)
  (func (export "nap") (result i32)
    (call $sleep (i32.const 20)) (call $count_to (i32.const 1000)) i32.const 0)
  (func (export "oversleep") (result i32)
    (call $sleep (i32.const 150)) (call $count_to (i32.const 1000)) i32.const 0)
  (func (export "long_job") (result i32) (local $i i32)
    (loop $l
      (call $sleep (i32.const 10))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20))))
    i32.const 7)
)
"""


def test_infinite_loop_is_stopped_at_its_timeout(host: WasmHost) -> None:
    call(host, LOOPS, "nap", Limits(timeout_ms=1000))  # the instance is warm: time only the loop
    started = time.monotonic()
    with pytest.raises(HookTimeout) as caught:
        call(host, LOOPS, "spin", Limits(timeout_ms=50))
    elapsed = time.monotonic() - started
    # Never before the timeout; the upper bound is loose only for a loaded machine.
    assert 0.05 <= elapsed < 0.5
    assert (caught.value.kind, caught.value.module, caught.value.function) == ("timeout", "guest", "spin")
    assert str(caught.value) == "guest.spin: deadline exceeded"


def test_time_spent_in_a_host_call_counts_towards_the_timeout(host: WasmHost) -> None:
    with pytest.raises(HookTimeout):
        call(host, LOOPS, "oversleep", Limits(timeout_ms=50))


def test_deadline_is_rearmed_before_every_call(warm_host: WasmHost) -> None:
    compiled = warm_host.compile(wasm(LOOPS))
    limits = Limits(timeout_ms=100)
    started = time.monotonic()
    while time.monotonic() - started < 0.4:
        assert warm_host.call(compiled, "nap", limits=limits) == 0
    assert warm_host.instance_count() == 1


def test_a_deadline_reused_within_a_tick_still_gives_the_whole_timeout(warm_host: WasmHost) -> None:
    quick = LOOPS.rstrip()[:-1] + '(func (export "quick") (result i32) i32.const 0))'
    compiled = warm_host.compile(wasm(quick))
    limits = Limits(timeout_ms=20)
    for _ in range(10):
        assert warm_host.call(compiled, "quick", limits=limits) == 0
        assert warm_host.call(compiled, "quick", limits=limits) == 0  # the deadline is reused
        started = time.monotonic()
        with pytest.raises(HookTimeout):
            warm_host.call(compiled, "spin", limits=limits)
        assert 0.02 <= time.monotonic() - started < 0.5


def test_the_deadline_is_armed_again_only_after_a_tick_or_for_another_timeout(
    warm_host: WasmHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = [7]
    monkeypatch.setattr(engine_module, "ticks_so_far", lambda: ticks[0])
    armed: list[int] = []
    real = lowlevel.RawStore.set_deadline
    monkeypatch.setattr(lowlevel.RawStore, "set_deadline", lambda self, n: armed.append(n) or real(self, n))
    compiled = warm_host.compile(wasm(LOOPS))
    for timeout_ms, tick in ((100, 7), (100, 7), (100, 8), (100, 8), (50, 8), (50, 8)):
        ticks[0] = tick
        warm_host.call(compiled, "nap", limits=Limits(timeout_ms=timeout_ms))
    assert armed == [22, 22, 12]  # creation (shared with the first call), a tick later, 50 ms


def test_one_guests_timeout_never_interrupts_another(host: WasmHost) -> None:
    compiled = host.compile(wasm(LOOPS))
    timeouts: list[HookError] = []
    done = threading.Event()

    def spin_until_done() -> None:
        while not done.is_set():
            try:
                host.call(compiled, "spin", limits=Limits(timeout_ms=5))
            except HookTimeout as exc:
                timeouts.append(exc)

    spinner = threading.Thread(target=spin_until_done)
    spinner.start()
    try:
        assert host.call(compiled, "long_job", limits=Limits(timeout_ms=10_000)) == 7
    finally:
        done.set()
        spinner.join()
    assert len(timeouts) >= 2


# Fuel

FUEL = f"""
(module
  {COUNT_TO}
  (func (export "spin") (result i32) {SPIN} i32.const 0)
  (func (export "count_100") (result i32) (call $count_to (i32.const 100)) i32.const 0)
  (func (export "count_1m") (result i32) (call $count_to (i32.const 1000000)) i32.const 0)
)
"""


def test_small_fuel_budget_stops_a_loop(host: WasmHost) -> None:
    with pytest.raises(HookFuelExhausted) as caught:
        call(host, FUEL, "spin", Limits(fuel=1000, timeout_ms=10_000))
    assert isinstance(caught.value, HookTimeout)
    assert (caught.value.kind, caught.value.function) == ("fuel", "spin")


def test_without_fuel_there_is_no_budget(host: WasmHost) -> None:
    assert call(host, FUEL, "count_1m", Limits(timeout_ms=10_000)) == 0
    with pytest.raises(HookFuelExhausted):
        call(host, FUEL, "count_1m", Limits(timeout_ms=10_000, fuel=100_000))


def test_fuel_is_refilled_before_every_call(host: WasmHost) -> None:
    compiled = host.compile(wasm(FUEL))
    for _ in range(20):
        assert host.call(compiled, "count_100", limits=Limits(fuel=2_000)) == 0


def test_a_call_without_fuel_after_one_with_fuel_has_no_budget(warm_host: WasmHost) -> None:
    compiled = warm_host.compile(wasm(FUEL))
    assert warm_host.call(compiled, "count_100", limits=Limits(fuel=2_000)) == 0
    for _ in range(2):  # the same instance: the small budget left over must not apply
        assert warm_host.call(compiled, "count_1m", limits=Limits()) == 0
    with pytest.raises(HookFuelExhausted):
        warm_host.call(compiled, "count_1m", limits=Limits(fuel=2_000))
    assert warm_host.call(compiled, "count_1m", limits=Limits()) == 0


# Memory

MEMORY = """
(module
  (memory (export "memory") 1)
  (func (export "grow_4") (result i32) (memory.grow (i32.const 4)))
  (func (export "grow_1") (result i32) (memory.grow (i32.const 1)))
  (func (export "bomb") (result i32)
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable)
)
"""


def test_grow_past_the_cap_returns_minus_one_to_the_guest(warm_host: WasmHost) -> None:
    compiled = warm_host.compile(wasm(MEMORY))
    limits = Limits(memory_bytes=2 * PAGE)
    assert warm_host.call(compiled, "grow_4", limits=limits) == -1
    assert warm_host.call(compiled, "grow_1", limits=limits) == 1
    assert warm_host.call(compiled, "grow_1", limits=limits) == -1


def test_guest_that_traps_after_a_refused_grow_exceeded_its_memory(host: WasmHost) -> None:
    compiled = host.compile(wasm(MEMORY))
    limits = Limits(memory_bytes=8 * PAGE)
    with pytest.raises(HookMemoryExceeded) as caught:
        host.call(compiled, "bomb", limits=limits, label="guest")
    assert (caught.value.kind, caught.value.module, caught.value.function) == ("memory", "guest", "bomb")
    assert host.call(compiled, "grow_1", limits=limits, label="guest") == 1


@pytest.mark.parametrize("export", ['(export "memory")', ""])
def test_declared_memory_over_the_cap_fails_at_instantiation(host: WasmHost, export: str) -> None:
    source = f'(module (memory {export} 4) (func (export "run") (result i32) i32.const 0))'
    with pytest.raises(HookMemoryExceeded) as caught:
        call(host, source, "run", Limits(memory_bytes=2 * PAGE))
    assert caught.value.module == "guest"
    assert call(host, source, "run", Limits(memory_bytes=4 * PAGE)) == 0


# Traps


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("unreachable", "unreachable"),
        ("(i32.div_s (i32.const 1) (i32.const 0))", "integer division by zero"),
        ("(i32.load (i32.const 70000))", "memory out of bounds"),
    ],
)
def test_trap_message_has_no_backtrace(host: WasmHost, body: str, message: str) -> None:
    source = f'(module (memory (export "memory") 1) (func (export "run") (result i32) {body}))'
    with pytest.raises(HookTrap) as caught:
        call(host, source, "run")
    assert str(caught.value) == f"guest.run: {message}"
    assert (caught.value.kind, caught.value.function) == ("trap", "run")


def test_trap_in_a_module_without_memory(host: WasmHost) -> None:
    with pytest.raises(HookTrap, match=r"unreachable$"):
        call(host, '(module (func (export "run") (result i32) unreachable))', "run")


def test_unknown_import_fails_at_instantiation(host: WasmHost) -> None:
    source = '(module (import "nowhere" "f" (func)) (func (export "run") (result i32) i32.const 0))'
    with pytest.raises(HookError, match="unknown import") as caught:
        call(host, source, "run")
    assert caught.value.function == "(instantiate)"
    assert "\n" not in str(caught.value)


# Exports

EXPORTS = """
(module
  (func (export "nothing"))
  (func (export "takes") (param i32) (result i32) local.get 0)
  (func (export "wide") (result i64) i64.const 1)
)
"""


def test_missing_export_is_an_abi_error(host: WasmHost) -> None:
    with pytest.raises(HookABIError, match="'on_request' is not exported") as caught:
        call(host, EXPORTS, "on_request")
    assert (caught.value.kind, caught.value.module, caught.value.function) == ("abi", "guest", "on_request")


@pytest.mark.parametrize("function", ["takes", "wide"])
def test_export_with_another_signature_is_an_abi_error(host: WasmHost, function: str) -> None:
    with pytest.raises(HookABIError, match=r"is not \(\) -> i32") as caught:
        call(host, EXPORTS, function)
    assert caught.value.function == function


def test_instance_knows_its_exports(host: WasmHost) -> None:
    instance = GuestInstance(host.linker, host.compile(wasm(EXPORTS)), Limits(), None, "guest")
    assert instance.has_function("nothing") and not instance.has_function("on_request")
    assert instance.call("nothing", Limits(), None) == 0
    assert not instance.broken


def test_export_without_result_returns_zero(host: WasmHost) -> None:
    assert call(host, EXPORTS, "nothing") == 0


INITIALIZE = """
(module
  (global $inits (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $inits (i32.add (global.get $inits) (i32.const 1))))
  (func (export "inits") (result i32) global.get $inits)
)
"""


def test_initialize_runs_once_per_instance(warm_host: WasmHost) -> None:
    compiled = warm_host.compile(wasm(INITIALIZE))
    assert [warm_host.call(compiled, "inits", limits=Limits()) for _ in range(3)] == [1, 1, 1]
    assert warm_host.instance_count() == 1


def test_initialize_failure_fails_the_call(host: WasmHost) -> None:
    source = """
    (module (func (export "_initialize") unreachable) (func (export "run") (result i32) i32.const 0))
    """
    with pytest.raises(HookTrap) as caught:
        call(host, source, "run")
    assert caught.value.function == "_initialize"
    assert host.instance_count() == 0


def test_start_function_runs_under_the_timeout(host: WasmHost) -> None:
    source = f'(module (func $start {SPIN}) (start $start) (func (export "run") (result i32) i32.const 0))'
    started = time.monotonic()
    with pytest.raises(HookTimeout) as caught:
        call(host, source, "run", Limits(timeout_ms=50))
    assert time.monotonic() - started < 2
    assert (caught.value.module, caught.value.function) == ("guest", "(instantiate)")


def test_start_function_runs_under_the_fuel_budget(host: WasmHost) -> None:
    source = f'(module (func $start {SPIN}) (start $start) (func (export "run") (result i32) i32.const 0))'
    with pytest.raises(HookFuelExhausted):
        call(host, source, "run", Limits(timeout_ms=10_000, fuel=1_000))


# WASI

WASI = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (func (export "calls") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1))) (global.get $calls))
  (func (export "exit_0") (result i32) (call $exit (i32.const 0)) i32.const 99)
  (func (export "exit_3") (result i32) (call $exit (i32.const 3)) i32.const 99)
)
"""


@pytest.fixture
def wasi_host() -> WasmHost:
    return WasmHost([], wasi_config=lambda _label: wasmtime.WasiConfig())


def test_exit_zero_returns_zero_and_drops_the_instance(wasi_host: WasmHost) -> None:
    compiled = wasi_host.compile(wasm(WASI))
    assert wasi_host.call(compiled, "calls", limits=Limits()) == 1
    assert wasi_host.call(compiled, "exit_0", limits=Limits()) == 0
    assert wasi_host.instance_count() == 0
    assert wasi_host.call(compiled, "calls", limits=Limits()) == 1


def test_exit_non_zero_is_a_trap(wasi_host: WasmHost) -> None:
    with pytest.raises(HookTrap) as caught:
        call(wasi_host, WASI, "exit_3")
    assert str(caught.value) == "guest.exit_3: exited with code 3"
    assert wasi_host.instance_count() == 0


def test_wasi_error_is_summarized_without_backtrace(wasi_host: WasmHost) -> None:
    source = """
    (module
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (func (export "run") (result i32)
        (call $write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))))
    """
    with pytest.raises(HookTrap) as caught:
        call(wasi_host, source, "run")
    assert str(caught.value) == "guest.run: missing required memory export"


def test_wasi_host_runs_modules_that_do_not_import_wasi(wasi_host: WasmHost) -> None:
    assert call(wasi_host, EXPORTS, "nothing") == 0


SPENDER = """
(module
  (memory (export "memory") 1)
  (func $spend (param $rounds i32)
    (loop $again
      (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
      (br_if $again (i32.gt_s (local.get $rounds) (i32.const 0)))))
  (func (export "_initialize") (call $spend (i32.const 6000)))
  (func (export "work") (result i32) (call $spend (i32.const 6000)) (i32.const 0))
)
"""


def test_creation_initialize_and_the_first_call_share_one_budget() -> None:
    # Each spend of 6000 rounds fits in the budget; two of them do not. Fuel makes it exact.
    host = WasmHost([])
    compiled = host.compile(bytes(wasmtime.wat2wasm(SPENDER)))
    budget = Limits(fuel=70_000)
    assert host.call(compiled, "work", limits=Limits(fuel=10**9), label="roomy") == 0
    with pytest.raises(HookFuelExhausted):
        host.call(compiled, "work", limits=budget, label="tight")
    host.call(compiled, "work", limits=Limits(fuel=10**9), label="warm")
    assert host.call(compiled, "work", limits=budget, label="warm") == 0  # re-armed: a full budget


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("(module (memory 1) (memory 1))", "multiple memories"),
        ("(module (memory i64 1))", "memory64 must be enabled"),
        ("(module (memory 1 1 shared))", "threads must be enabled"),
    ],
    ids=["two-memories", "memory64", "shared-memory"],
)
def test_modules_that_could_get_around_the_memory_cap_do_not_compile(source: str, reason: str) -> None:
    with pytest.raises(ModuleInvalid, match=reason):
        WasmHost([]).compile(bytes(wasmtime.wat2wasm(source)))


TABLES = """
(module
  (memory (export "memory") 1)
  (table $t {initial} funcref)
  {extra}
  (func (export "grow") (result i32) (table.grow $t (ref.null func) (i32.const {grow})))
)
"""


def _tables(initial: int = 1, grow: int = 1, extra_tables: int = 0) -> bytes:
    extra = " ".join("(table 1 funcref)" for _ in range(extra_tables))
    return bytes(wasmtime.wat2wasm(TABLES.format(initial=initial, grow=grow, extra=extra)))


def test_table_growth_past_the_element_cap_is_refused_to_the_guest() -> None:
    host = WasmHost([])
    assert host.call(host.compile(_tables(grow=10)), "grow", limits=Limits(), label="t") == 1
    refused = host.compile(_tables(grow=instance_module.MAX_TABLE_ELEMENTS))
    assert host.call(refused, "grow", limits=Limits(), label="t") == -1


@pytest.mark.parametrize(
    "module",
    [
        {"initial": instance_module.MAX_TABLE_ELEMENTS + 1},
        {"extra_tables": instance_module.MAX_TABLES},
    ],
    ids=["table-too-large", "too-many-tables"],
)
@pytest.mark.parametrize("isolate", [False, True], ids=["warm", "fresh"])
def test_tables_over_the_limits_at_instantiation_are_memory_exceeded(
    module: dict[str, int], isolate: bool
) -> None:
    host = WasmHost([])
    with pytest.raises(HookMemoryExceeded):
        host.call(host.compile(_tables(**module)), "grow", limits=Limits(), label="t", isolate=isolate)


def test_memory_is_read_between_calls_within_its_bounds() -> None:
    source = '(module (memory (export "memory") 1) (data (i32.const 8) "guest") (func (export "run")))'
    host = WasmHost([])
    instance = GuestInstance(host.linker, host.compile(wasm(source)), Limits(), None, "guest")
    assert instance.read_memory(8, 5) == b"guest"
    assert instance.read_memory(PAGE, 0) == b""
    for ptr, length in ((PAGE - 2, 3), (-1, 2), (0, -1)):
        with pytest.raises(ValueError, match="outside guest memory"):
            instance.read_memory(ptr, length)
    without = GuestInstance(
        host.linker, host.compile(wasm('(module (func (export "run")))')), Limits(), None, "g"
    )
    with pytest.raises(ValueError, match="exports no memory"):
        without.read_memory(0, 1)


def test_a_start_function_that_fails_in_a_fresh_instance_runs_once() -> None:
    """Only a pool with no free slot sends a fresh instance to the other engine: a start
    function that ran and failed (here `proc_exit(200)`, a plain error) is not run again."""
    starts: list[int] = []
    source = """
    (module
      (import "test" "started" (func $started))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func $start (call $started) (call $exit (i32.const 200)))
      (start $start)
      (func (export "run") (result i32) i32.const 0))
    """
    host = WasmHost(
        [HostFunction("test", "started", (), (), lambda frame: starts.append(1))],
        wasi_config=lambda _label: wasmtime.WasiConfig(),
    )
    with pytest.raises(HookError):
        host.call(host.compile(wasm(source)), "run", limits=Limits(), isolate=True)
    assert starts == [1]
