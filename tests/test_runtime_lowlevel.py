"""Host functions registered through our own unchecked trampoline."""

from __future__ import annotations

import threading
import time

import pytest
import wasmtime

from wasmhooks.runtime import (
    CallFrame,
    GuestFault,
    HookABIError,
    HookHostError,
    HostFunction,
    Limits,
    WasmHost,
    get_engine,
    lowlevel,
)

GUEST = """
(module
  (import "test" "fault" (func $fault (result i32)))
  (import "test" "crash" (func $crash (result i32)))
  (import "test" "add64" (func $add64 (param i64 i32) (result i64)))
  (import "test" "look" (func $look))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello")
  (func (export "fault") (result i32) (call $fault))
  (func (export "crash") (result i32) (call $crash))
  (func (export "ok") (result i32) i32.const 0)
  (func (export "add64") (result i32)
    (i64.eq (call $add64 (i64.const 0x100000000) (i32.const -5)) (i64.const 0xfffffffb)))
  (func (export "grow_between_looks") (result i32)
    (call $look)
    (drop (memory.grow (i32.const 2)))
    (i32.store8 (i32.const 131072) (i32.const 33))
    (call $look)
    i32.const 0)
)
"""


def wasm(source: str) -> bytes:
    return bytes(wasmtime.wat2wasm(source))


def fault(frame: CallFrame) -> int:
    raise GuestFault(f"bad pointer from caller {frame.state}")


def crash(frame: CallFrame) -> int:
    time.sleep(0.001)  # let other threads' host calls interleave with this one
    raise ValueError(f"backend down for caller {frame.state}")


def add64(frame: CallFrame, wide: int, narrow: int) -> int:
    return wide + narrow


def look(frame: CallFrame) -> None:
    view = frame.grown_memory_view()
    frame.state.append((len(view), bytes(view[:5]), bytes(view[131072:131073])))


FUNCTIONS = [
    HostFunction("test", "fault", (), ("i32",), fault),
    HostFunction("test", "crash", (), ("i32",), crash),
    HostFunction("test", "add64", ("i64", "i32"), ("i64",), add64),
    HostFunction("test", "look", (), (), look),
]


@pytest.fixture
def host() -> WasmHost:
    return WasmHost(FUNCTIONS)


def run(host: WasmHost, function: str, state: object = None, source: str = GUEST) -> int:
    return host.call(host.compile(wasm(source)), function, limits=Limits(), state=state, label="guest")


def test_guest_fault_is_an_abi_error_with_its_message(host: WasmHost) -> None:
    with pytest.raises(HookABIError) as caught:
        run(host, "fault", state="A")
    assert str(caught.value) == "guest.fault: bad pointer from caller A"
    assert (caught.value.kind, caught.value.module, caught.value.function) == ("abi", "guest", "fault")


def test_other_host_exception_is_a_host_error_caused_by_it(host: WasmHost) -> None:
    with pytest.raises(HookHostError) as caught:
        run(host, "crash", state="A")
    assert isinstance(caught.value.__cause__, ValueError)
    assert str(caught.value.__cause__) == "backend down for caller A"
    assert (caught.value.kind, caught.value.function) == ("host", "crash")


def test_host_exception_during_instantiation_is_a_host_error(host: WasmHost) -> None:
    source = """
    (module
      (import "test" "crash" (func $crash (result i32)))
      (func $start (drop (call $crash)))
      (start $start))
    """
    with pytest.raises(HookHostError) as caught:
        run(host, "run", state="A", source=source)
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.function == "(instantiate)"


def test_host_exceptions_never_leak_to_another_thread(host: WasmHost) -> None:
    compiled = host.compile(wasm(GUEST))
    problems: list[str] = []

    def worker(number: int) -> None:
        for attempt in range(30):
            if (number + attempt) % 2:
                if host.call(compiled, "ok", limits=Limits(), state=number) != 0:
                    problems.append(f"{number}: ok call failed")
                continue
            try:
                host.call(compiled, "crash", limits=Limits(), state=number)
            except HookHostError as exc:
                if str(exc.__cause__) != f"backend down for caller {number}":
                    problems.append(f"{number}: got {exc.__cause__}")
            else:
                problems.append(f"{number}: crash call succeeded")

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []


def test_i64_and_negative_arguments_and_results_cross_intact(host: WasmHost) -> None:
    assert run(host, "add64") == 1


def test_host_sees_memory_grown_by_the_guest_during_the_call(host: WasmHost) -> None:
    looks: list[tuple[int, bytes, bytes]] = []
    assert run(host, "grow_between_looks", state=looks) == 0
    assert looks == [(65536, b"hello", b""), (3 * 65536, b"hello", b"!")]


def test_reading_memory_of_a_module_without_memory_is_an_abi_error(host: WasmHost) -> None:
    source = """
    (module (import "test" "look" (func $look)) (func (export "run") (result i32) (call $look) i32.const 0))
    """
    with pytest.raises(HookABIError, match="exports no memory named 'memory'"):
        run(host, "run", state=[], source=source)


def test_host_function_outside_any_call_traps_instead_of_crashing(host: WasmHost) -> None:
    source = '(module (import "test" "look" (func $look)) (start $look))'
    store = wasmtime.Store(get_engine())
    store.set_fuel(1_000_000)
    store.set_epoch_deadline(1_000)
    outside = r"test\.look called outside a hook call"
    with pytest.raises((wasmtime.Trap, wasmtime.WasmtimeError), match=outside):
        host.linker.instantiate(store, host.compile(wasm(source)).module)


def test_defining_a_host_function_twice_is_refused() -> None:
    with pytest.raises(wasmtime.WasmtimeError, match="`test::fault` defined twice"):
        WasmHost([FUNCTIONS[0], FUNCTIONS[0]]).linker  # noqa: B018


def test_a_store_is_deleted_once_however_often_it_is_closed() -> None:
    store = lowlevel.RawStore(get_engine())
    store.close()
    store.close()
    del store  # and once more by the garbage collector: nothing happens


def test_fuel_in_an_engine_that_does_not_consume_it_is_refused() -> None:
    store = lowlevel.RawStore(wasmtime.Engine())
    with pytest.raises(wasmtime.WasmtimeError, match="fuel is not configured"):
        store.set_fuel(10)


def test_exports_are_looked_up_by_name_and_kind() -> None:
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, '(module (memory (export "memory") 1) (func (export "run")))')
    store = lowlevel.RawStore(engine)
    instance = store.instantiate(wasmtime.Linker(engine).instantiate_pre(module))
    assert instance.func_address("run") is not None
    assert instance.memory_address("memory") is not None
    assert instance.func_address("memory") is None  # there, but not a function
    assert instance.memory_address("run") is None
    assert instance.func_address("missing") is None
    assert instance.func_address("run") == instance.func_address("run")


def test_a_trap_during_instantiation_is_raised_as_a_trap() -> None:
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, "(module (func $start unreachable) (start $start))")
    store = lowlevel.RawStore(engine)
    with pytest.raises(wasmtime.Trap, match="unreachable"):
        store.instantiate(wasmtime.Linker(engine).instantiate_pre(module))
